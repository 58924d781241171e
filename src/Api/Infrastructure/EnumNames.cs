using System.Text.Json;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The names the API gives enum values (camelCase, as <see cref="ApiJson"/>'s converter writes them): the one
/// spelling used wherever a value is stored in a database column, put in a message or read back from either.
/// </summary>
public static class EnumNames
{
    /// <summary><c>JobKind.HostDriverInstall</c> → <c>hostDriverInstall</c>.</summary>
    public static string Of<T>(T value)
        where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    /// <summary>The value named exactly <paramref name="name"/> (case-sensitive, as <see cref="Of{T}"/> spells it); null when none is.</summary>
    public static T? Parse<T>(string? name)
        where T : struct, Enum =>
        Enum.GetValues<T>().Where(v => Of(v) == name).Select(v => (T?)v).FirstOrDefault();
}
