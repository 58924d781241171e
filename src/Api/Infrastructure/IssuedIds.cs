using System.Text.RegularExpressions;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The ids GpuLxc issues itself (jobs, NVENC leases): 32 lower-case hexadecimal digits. An id of another form was
/// never issued, so it is simply not found; it is never written back into an answer as it came.
/// </summary>
public static partial class IssuedIds
{
    /// <summary>Whether <paramref name="id"/> has the form of an issued id.</summary>
    public static bool IsWellFormed(string id) => Pattern().IsMatch(id);

    /// <summary><c>'id'</c> for a well-formed id; otherwise words that say the id is not of that form, without it.</summary>
    public static string Quote(string id) =>
        IsWellFormed(id) ? $"'{id}'" : "with that id (ids GpuLxc issues are 32 lower-case hexadecimal digits)";

    [GeneratedRegex("^[0-9a-f]{32}\\z")]
    private static partial Regex Pattern();
}
