namespace GpuLxc.Api.Containers.Config;

/// <summary>
/// Proxmox's <c>features:</c> property (<c>mount=nfs;cifs,nesting=1</c>): comma-separated <c>key=value</c> items.
/// Requiring features keeps every other item, its text and its order; a required key that is there with another value
/// is changed in place, a missing one is inserted before the first item that sorts after it (Proxmox prints the
/// property's keys in sorted order, so a sorted value stays sorted).
/// </summary>
public static class ContainerFeatures
{
    /// <summary>The property's key in a Proxmox container config.</summary>
    public const string Key = "features";

    /// <summary>
    /// <paramref name="current"/> (null or empty: no <c>features:</c> line) with every <paramref name="required"/> item
    /// set; <c>Changes</c> names each item added or changed (<c>nesting=0 → nesting=1</c>), empty when nothing changed.
    /// </summary>
    public static (string Value, IReadOnlyList<string> Changes) Require(string? current, IReadOnlyList<(string Key, string Value)> required)
    {
        var items = (current ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
        var changes = new List<string>();
        foreach (var (key, value) in required)
        {
            var index = items.FindIndex(item => KeyOf(item) == key);
            if (index >= 0)
            {
                if (items[index] != $"{key}={value}")
                {
                    changes.Add($"{items[index]} → {key}={value}");
                    items[index] = $"{key}={value}";
                }

                continue;
            }

            var before = items.FindIndex(item => string.CompareOrdinal(KeyOf(item), key) > 0);
            items.Insert(before < 0 ? items.Count : before, $"{key}={value}");
            changes.Add($"{key}={value} added");
        }

        return (changes.Count == 0 ? current ?? "" : string.Join(',', items), changes);
    }

    /// <summary>The value of one item (<c>nesting</c> in <c>mount=nfs,nesting=1</c> → <c>1</c>); null when the item is not there.</summary>
    public static string? Get(string? features, string key) =>
        (features ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Where(item => KeyOf(item) == key)
            .Select(item => item.Contains('=', StringComparison.Ordinal) ? item[(item.IndexOf('=', StringComparison.Ordinal) + 1)..] : "").FirstOrDefault();

    private static string KeyOf(string item) => item.Split('=')[0].Trim();
}
