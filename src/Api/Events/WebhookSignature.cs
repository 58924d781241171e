using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace GpuLxc.Api.Events;

/// <summary>
/// How a webhook body is signed: <c>X-GpuLxc-Signature: sha256=&lt;hex&gt;</c>, the lower-case hex HMAC-SHA256, keyed
/// with the webhook's secret (UTF-8), of the ASCII Unix time in seconds from <c>X-GpuLxc-Timestamp</c>, a dot, and the
/// body's bytes as sent. The time inside the signed text lets a receiver refuse a replayed old delivery.
/// </summary>
public static class WebhookSignature
{
    public const string SignatureHeader = "X-GpuLxc-Signature";
    public const string TimestampHeader = "X-GpuLxc-Timestamp";
    public const string EventIdHeader = "X-GpuLxc-Event-Id";
    public const string EventTypeHeader = "X-GpuLxc-Event-Type";

    /// <summary><c>sha256=</c> and the hex HMAC-SHA256 of <c>"{timestamp}.{body}"</c> under <paramref name="secret"/>.</summary>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.ASCII.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }

    /// <summary>Whether <paramref name="signature"/> is <see cref="Sign"/>'s for these inputs, compared in constant time.</summary>
    public static bool Verify(string secret, long timestamp, ReadOnlySpan<byte> body, string? signature) =>
        signature is not null && CryptographicOperations.FixedTimeEquals(
            Encoding.ASCII.GetBytes(Sign(secret, timestamp, body)), Encoding.ASCII.GetBytes(signature));
}
