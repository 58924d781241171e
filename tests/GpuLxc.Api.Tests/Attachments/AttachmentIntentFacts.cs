using System.Text;
using GpuLxc.Api.Attachments;

namespace GpuLxc.Api.Tests.Attachments;

public sealed class AttachmentIntentFacts
{
    private static readonly byte[] Old = Encoding.UTF8.GetBytes("arch: amd64\n");
    private static readonly byte[] New = Encoding.UTF8.GetBytes("arch: amd64\ndev0: /dev/nvidia0\n");

    private static readonly AttachmentIntent Intent = new(
        "101", "Proxmox", AttachmentIntent.Sha1(Old), AttachmentIntent.Sha1(New), null, "ops", "detach", "", DateTimeOffset.UnixEpoch);

    [Fact]
    public void Resolve_Completes_WhenTheConfigHoldsTheNewBytes() => Assert.Equal(IntentOutcome.Complete, Intent.Resolve(New));

    [Fact]
    public void Resolve_Drops_WhenTheConfigStillHoldsTheOldBytes() => Assert.Equal(IntentOutcome.Drop, Intent.Resolve(Old));

    [Fact]
    public void Resolve_IsSuperseded_WhenTheConfigWasEditedSinceOrRemoved()
    {
        Assert.Equal(IntentOutcome.Superseded, Intent.Resolve(Encoding.UTF8.GetBytes("arch: amd64\n#note\n")));
        Assert.Equal(IntentOutcome.Superseded, Intent.Resolve(null));
    }

    [Fact]
    public void Sha1_IsProxmoxsDigestInLowercaseHex() =>
        Assert.Equal("da39a3ee5e6b4b0d3255bfef95601890afd80709", AttachmentIntent.Sha1([]));
}
