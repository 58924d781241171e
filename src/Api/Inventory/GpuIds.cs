using System.Text.RegularExpressions;

namespace GpuLxc.Api.Inventory;

/// <summary>How a request names a GPU: by UUID, PCI address or index (design §3).</summary>
public static partial class GpuIds
{
    public const string Rule = "a GPU UUID (GPU-xxxxxxxx-…), a PCI address (0000:01:00.0) or an index (0, 1, …)";

    /// <summary>Whether <paramref name="gpuId"/> has the shape of a UUID, a PCI address or an index.</summary>
    public static bool IsWellFormed(string gpuId) => Pattern().IsMatch(gpuId) || (gpuId.Trim().Length == gpuId.Length && PciAddress.Normalize(gpuId) is not null);

    [GeneratedRegex(@"^(?:GPU-[0-9A-F]{8}(?:-[0-9A-F]{4}){3}-[0-9A-F]{12}|[0-9]{1,3})\z", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();
}
