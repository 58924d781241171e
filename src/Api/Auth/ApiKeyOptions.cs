using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Auth;

/// <summary>
/// Bound from <c>GpuLxc:Auth</c>: <c>GpuLxc__Auth__ApiKeys__&lt;name&gt;__Key</c> and <c>…__Scopes</c>; checked by
/// <see cref="ApiKeyOptionsValidator"/> when the service starts. No key at all is valid: one is then generated.
/// </summary>
public sealed class ApiKeyOptions
{
    public const string Section = "GpuLxc:Auth";

    public Dictionary<string, ApiKeyEntry> ApiKeys { get; init; } = new(StringComparer.Ordinal);
}

public sealed class ApiKeyEntry
{
    /// <summary>The secret, at least <see cref="ApiKeyStore.MinimumKeyLength"/> characters without whitespace (surrounding whitespace is trimmed).</summary>
    public string? Key { get; set; }

    /// <summary>Comma-separated: <c>read</c>, <c>sessions</c>, <c>admin</c>.</summary>
    public string? Scopes { get; set; }

    /// <summary>The key as it is compared: without surrounding whitespace.</summary>
    internal string TrimmedKey => Key?.Trim() ?? "";

    /// <summary>The scopes listed in <see cref="Scopes"/>, trimmed, without empty entries.</summary>
    internal HashSet<string> ScopeSet() =>
        (Scopes ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
}

/// <summary>
/// Refuses a key name that is not a plain name, a key that is short or has whitespace in it, a key given twice, and
/// scopes that are missing or unknown. Each failure names the key's full setting path.
/// </summary>
public sealed partial class ApiKeyOptionsValidator : IValidateOptions<ApiKeyOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiKeyOptions options)
    {
        var failures = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyName, entry) in options.ApiKeys.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            var where = $"{ApiKeyOptions.Section}:ApiKeys:{keyName}";
            if (!KeyNamePattern().IsMatch(keyName))
            {
                failures.Add($"{where}: the name must match {KeyNamePattern()}.");
            }

            var key = entry.TrimmedKey;
            if (key.Length < ApiKeyStore.MinimumKeyLength || key.Any(char.IsWhiteSpace))
            {
                failures.Add($"{where}:Key must be at least {ApiKeyStore.MinimumKeyLength} characters without whitespace.");
            }
            else if (!seen.Add(key))
            {
                failures.Add($"{where}:Key is the same as another key's.");
            }

            var scopes = entry.ScopeSet();
            var unknown = scopes.Where(scope => !Scopes.All.Contains(scope)).ToList();
            if (scopes.Count == 0 || unknown.Count > 0)
            {
                failures.Add($"{where}:Scopes must list one or more of {string.Join(", ", Scopes.All)}" +
                             (unknown.Count > 0 ? $" (unknown: {string.Join(", ", unknown)})." : "."));
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex KeyNamePattern();
}
