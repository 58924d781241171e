using System.Globalization;

namespace GpuLxc.Client;

/// <summary>
/// The headers a GpuLxc answer carries besides its body, read from <see cref="GpuLxcResponse.Headers"/>. The
/// operations that set them answer with a <see cref="GpuLxcResponse{TResult}"/> (the attachment's
/// <c>GetAttachment</c>, <c>AttachGpu</c>, <c>DetachGpu</c>, and the POSTs that start a job); the others return their
/// body alone.
/// </summary>
public partial class GpuLxcResponse
{
    /// <summary>
    /// The <c>ETag</c>: the SHA-1 of the container's config, quoted (<c>"3f…"</c>), as Proxmox's digest. Send it back
    /// as <c>ifMatch</c> so that a write fails with 412 if the config changed since it was read. Null when absent.
    /// </summary>
    public string? ETag => HeaderValues.First(Headers, "ETag");

    /// <summary>The <c>Location</c> of a started job (<c>/api/v1/jobs/{jobId}</c>, relative to the service). Null when absent.</summary>
    public Uri? Location => HeaderValues.First(Headers, "Location") is { } location ? new Uri(location, UriKind.RelativeOrAbsolute) : null;

    /// <summary>The <c>Retry-After</c> delay (seconds, or an HTTP date counted from now): when to poll a job again. Null when absent.</summary>
    public TimeSpan? RetryAfter => HeaderValues.RetryAfter(Headers);
}

/// <summary>The headers of a refused request: <c>Retry-After</c> on 429, <c>Location</c> of the conflicting job on 409.</summary>
public partial class GpuLxcApiException
{
    /// <summary>
    /// The <c>Retry-After</c> delay of a 429 (NVENC budget full: when a session may be free). Null when absent.
    /// </summary>
    public TimeSpan? RetryAfter => HeaderValues.RetryAfter(Headers);

    /// <summary>The <c>Location</c> a 409 names (the job that holds the target). Null when absent.</summary>
    public Uri? Location => HeaderValues.First(Headers, "Location") is { } location ? new Uri(location, UriKind.RelativeOrAbsolute) : null;
}

internal static class HeaderValues
{
    /// <summary>The first value of a header, matched without regard to case (HTTP header names are case-insensitive).</summary>
    public static string? First(IReadOnlyDictionary<string, IEnumerable<string>>? headers, string name) =>
        headers?.FirstOrDefault(header => string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();

    public static TimeSpan? RetryAfter(IReadOnlyDictionary<string, IEnumerable<string>>? headers) => First(headers, "Retry-After") switch
    {
        null => null,
        var text when int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) => TimeSpan.FromSeconds(seconds),
        var text when DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) =>
            date - DateTimeOffset.UtcNow is var delay && delay > TimeSpan.Zero ? delay : TimeSpan.Zero,
        _ => null,
    };
}
