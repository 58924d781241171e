using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Diagnostics;

/// <summary>Issue 13, kind D: checks about a property test the property, not a name or a file that stands for it.</summary>
public sealed class DriverPropertyCheckTests
{
    private const string SecureBootOn = "\u0006\0\0\0\u0001";

    private static async Task<DiagnosticCheck> CheckAsync(HostTree tree, string id)
    {
        using var factory = new GpuLxcApiFactory(tree);
        return (await factory.CreateGpuLxcClient().GetDiagnosticsAsync()).Checks.Single(c => c.Id == id);
    }

    private static HostTree SmiReportingPersistence(string mode) => HostFixtures.Seed().WithCommand("nvidia-smi", $$"""
        case "$1" in
          --query-gpu=persistence_mode) echo {{mode}} ;;
          *) echo '0, {{HostFixtures.SeedUuid}}, GeForce GTX 760, 00000000:03:00.0, 418.152.00, 80.04.C3.00.0F, 1, 59, 1830, 7' ;;
        esac
        """);

    [Fact]
    public async Task PersistenceModeDisabledWarnsEvenWhileAProcessNamedNvidiaPersistencedRuns()
    {
        var check = await CheckAsync(SmiReportingPersistence("Disabled").WithFile("/proc/4242/comm", "nvidia-persiste\n"), "persistenced");

        Assert.Equal(CheckStatus.Warn, check.Status);
        Assert.Contains("persistence mode Disabled on GPU 0 although nvidia-persistenced runs", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PersistenceModeEnabledPassesWithoutTheDaemon()
    {
        var check = await CheckAsync(SmiReportingPersistence("Enabled"), "persistenced");

        Assert.Equal(CheckStatus.Pass, check.Status);
        Assert.Contains("Enabled on 1 GPU(s)", check.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Subject: CN=Some other key", CheckStatus.Fail)]
    [InlineData("Subject: O=pve, CN=DKMS module signing key", CheckStatus.Pass)]
    public async Task ASignedModulePassesSecureBootOnlyWhenItsKeyIsEnrolled(string enrolled, CheckStatus expected)
    {
        var tree = HostFixtures.Seed()
            .WithFile("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", SecureBootOn)
            .WithCommand("modinfo", "case \"$2\" in version) echo 418.152.00 ;; signer) echo 'DKMS module signing key' ;; esac")
            .WithCommand("mokutil", $"[ \"$1\" = --list-enrolled ] && echo '{enrolled}'; exit 0");

        var check = await CheckAsync(tree, "secure-boot");

        Assert.Equal(expected, check.Status);
        Assert.Contains("DKMS module signing key", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedDkmsBuildIsReportedWithItsLog()
    {
        var tree = HostFixtures.Seed()
            .WithCommand("dkms", "echo 'nvidia/418.152.00: added'")
            .WithFile("/var/lib/dkms/nvidia/418.152.00/build/make.log",
                "make -C /lib/modules/5.4.78-2-pve/build\n  CC [M]  nvidia/nv.o\nnvidia/nv.c:42:10: error: implicit declaration of function 'acpi_bus_get_device'\nmake: *** [Makefile:82: modules] Error 2\n");

        var check = await CheckAsync(tree, "dkms-built");

        Assert.Equal(CheckStatus.Fail, check.Status);
        Assert.Contains("/var/lib/dkms/nvidia/418.152.00/build/make.log", check.Detail, StringComparison.Ordinal);
        Assert.Contains("implicit declaration of function 'acpi_bus_get_device'", check.Detail, StringComparison.Ordinal);
        Assert.Contains("dkms autoinstall -k 5.4.78-2-pve", check.Fix, StringComparison.Ordinal);
    }
}
