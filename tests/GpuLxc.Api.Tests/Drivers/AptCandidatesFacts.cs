using GpuLxc.Api.Drivers;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>Kind K on the guest side: a Debian container of a host on a legacy series gets that series' packages.</summary>
public sealed class AptCandidatesFacts
{
    private const string Madison = """
         libcuda1 | 470.256.02-2 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         libnvidia-encode1 | 470.256.02-2 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         libnvcuvid1 | 470.256.02-2 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         libnvidia-ml1 | 470.256.02-2 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         nvidia-smi | 470.256.02-2 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         libnvidia-legacy-390xx-cuda1 | 390.157-1~deb11u1 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         libnvidia-legacy-390xx-encode1 | 390.157-1~deb11u1 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         libnvidia-legacy-390xx-nvcuvid1 | 390.157-1~deb11u1 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         libnvidia-legacy-390xx-ml1 | 390.157-1~deb11u1 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
         nvidia-legacy-390xx-smi | 390.157-1~deb11u1 | http://deb.debian.org/debian bullseye/non-free amd64 Packages
        """;

    [Fact]
    public void Choose_PinsTheLegacySeriesOwnPackages_WhenTheHostRunsTheLegacySeries()
    {
        var (chosen, _) = AptCandidates.Choose(AptCandidates.PackageSets(OsFamily.Debian, "390.157"), AptCandidates.ParseMadison(Madison), "390.157", _ => true);
        var pins = chosen!.Select(c => c.Pin);

        Assert.Equal(
        [
            "libnvidia-legacy-390xx-cuda1=390.157-1~deb11u1", "libnvidia-legacy-390xx-encode1=390.157-1~deb11u1", "libnvidia-legacy-390xx-nvcuvid1=390.157-1~deb11u1",
            "libnvidia-legacy-390xx-ml1=390.157-1~deb11u1", "nvidia-legacy-390xx-smi=390.157-1~deb11u1",
        ], pins);
    }

    [Fact]
    public void Choose_PinsTheCurrentSeries_WhenTheHostRunsIt()
    {
        var (chosen, _) = AptCandidates.Choose(AptCandidates.PackageSets(OsFamily.Debian, "470.256.02"), AptCandidates.ParseMadison(Madison), "470.256.02", _ => true);
        var pins = chosen!.Select(c => c.Pin);

        Assert.Equal(["libcuda1=470.256.02-2", "libnvidia-encode1=470.256.02-2", "libnvcuvid1=470.256.02-2", "libnvidia-ml1=470.256.02-2", "nvidia-smi=470.256.02-2"], pins);
    }

    [Theory]
    [InlineData("nvidia-legacy-390xx-driver", "nvidia-legacy-390xx-smi")]
    [InlineData("nvidia-legacy-340xx-driver", "nvidia-legacy-340xx-smi")]
    [InlineData("nvidia-tesla-470-driver", "nvidia-tesla-470-smi")]
    [InlineData("nvidia-driver", "nvidia-smi")]
    public void SmiPackage_IsTheDriversSeriesOwn_ForEverySeries(string driver, string smi) =>
        Assert.Equal(smi, DriverSeries.SmiPackage(driver));
}
