using System.Security.Cryptography;
using System.Text;
using GpuLxc.Api.Events;

namespace GpuLxc.Api.Tests.Events;

public sealed class WebhookSignatureFacts
{
    private const string Secret = "0123456789abcdef-secret";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"id\":7,\"type\":\"driver.changed\"}");

    [Fact]
    public void Sign_IsTheHexHmacOfTheTimestampADotAndTheBody_WhenGivenASecret()
    {
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(
            Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes("1764513600.{\"id\":7,\"type\":\"driver.changed\"}")));

        Assert.Equal($"sha256={expected}", WebhookSignature.Sign(Secret, 1764513600, Body));
    }

    [Fact]
    public void Verify_Fails_WhenTheBodyTheTimestampOrTheSecretDiffer()
    {
        var signature = WebhookSignature.Sign(Secret, 1764513600, Body);

        Assert.True(WebhookSignature.Verify(Secret, 1764513600, Body, signature));
        Assert.False(WebhookSignature.Verify(Secret, 1764513600, [.. Body, (byte)' '], signature));
        Assert.False(WebhookSignature.Verify(Secret, 1764513601, Body, signature));
        Assert.False(WebhookSignature.Verify(Secret + "x", 1764513600, Body, signature));
        Assert.False(WebhookSignature.Verify(Secret, 1764513600, Body, null));
    }
}
