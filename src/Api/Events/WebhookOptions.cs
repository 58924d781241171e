using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Events;

/// <summary>
/// Bound from <c>GpuLxc:Webhooks</c>: <c>GpuLxc__Webhooks__&lt;name&gt;__Url</c>, <c>…__Secret</c> and <c>…__Types</c>;
/// checked by <see cref="WebhookOptionsValidator"/> when the service starts. None configured: no webhook is called.
/// </summary>
public sealed class WebhookOptions
{
    /// <summary>The section <see cref="Webhooks"/> is bound under (its own key is <c>Webhooks</c>).</summary>
    public const string Section = "GpuLxc";

    public Dictionary<string, WebhookEntry> Webhooks { get; init; } = new(StringComparer.Ordinal);
}

public sealed class WebhookEntry
{
    /// <summary>Where events are POSTed: an absolute <c>http</c> or <c>https</c> URL.</summary>
    public string? Url { get; set; }

    /// <summary>The HMAC-SHA256 key the bodies are signed with, as UTF-8: at least <see cref="WebhookOptionsValidator.MinimumSecretBytes"/> bytes.</summary>
    public string? Secret { get; set; }

    /// <summary>Comma-separated event types (<see cref="EventTypes"/>) to send; empty or unset: every type.</summary>
    public string? Types { get; set; }

    /// <summary>The types listed in <see cref="Types"/>, trimmed, without empty entries; null for every type.</summary>
    internal IReadOnlySet<string>? TypeSet()
    {
        var types = (Types ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return types.Length == 0 ? null : types.ToHashSet(StringComparer.Ordinal);
    }
}

/// <summary>
/// Refuses a webhook name that is not a plain name, a URL that is not absolute http(s), a missing or short secret and
/// an unknown event type. Each failure names the full setting path.
/// </summary>
public sealed partial class WebhookOptionsValidator : IValidateOptions<WebhookOptions>
{
    /// <summary>128 bits: the least key length that makes an HMAC tag as hard to forge as it is long enough to need.</summary>
    public const int MinimumSecretBytes = 16;

    public ValidateOptionsResult Validate(string? name, WebhookOptions options)
    {
        var failures = new List<string>();
        foreach (var (hook, entry) in options.Webhooks.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            var where = $"{WebhookOptions.Section}:Webhooks:{hook}";
            if (!NamePattern().IsMatch(hook))
            {
                failures.Add($"{where}: the name must match {NamePattern()}.");
            }

            if (!Uri.TryCreate(entry.Url?.Trim(), UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                failures.Add($"{where}:Url must be an absolute http or https URL.");
            }

            if (Encoding.UTF8.GetByteCount(entry.Secret ?? "") < MinimumSecretBytes)
            {
                failures.Add($"{where}:Secret is required: at least {MinimumSecretBytes} bytes (e.g. `openssl rand -hex 32`).");
            }

            var unknown = entry.TypeSet()?.Where(type => !EventTypes.All.Contains(type)).ToList() ?? [];
            if (unknown.Count > 0)
            {
                failures.Add($"{where}:Types lists unknown event types ({string.Join(", ", unknown)}); known: {string.Join(", ", EventTypes.All.Order(StringComparer.Ordinal))}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\\z")]
    private static partial Regex NamePattern();
}
