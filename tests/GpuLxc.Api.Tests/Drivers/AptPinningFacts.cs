using GpuLxc.Api.Drivers;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>Issue 14: the apt state GpuLxc owns in a container, and what it reads back from apt and dpkg.</summary>
public sealed class AptPinningFacts
{
    [Theory]
    [InlineData(" libcuda1 | 550.144.03-1 | file:/srv/flat ./ Packages", "file:/srv/flat ./")]
    [InlineData(" libcuda1 | 550.144.03-1 | https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64  Packages", "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64")]
    public void ParseMadison_ReadsNoSuite_WhenTheRepositoryIsFlat(string line, string repository)
    {
        var version = Assert.Single(AptCandidates.ParseMadison(line));

        Assert.Equal((null, repository), (version.Suite, version.Repository));
    }

    [Fact]
    public void Choose_TakesAFlatRepositorysVersion_WhenOnlyTheHostsSuiteIsAllowed()
    {
        var available = AptCandidates.ParseMadison("""
             libnvidia-ml1 | 550.163.01-0+deb12u1 | file:/srv/debian bookworm-security/main amd64 Packages
             libnvidia-ml1 | 550.144.03-1 | file:/srv/flat ./ Packages
            """);

        var (chosen, _) = AptCandidates.Choose([["libnvidia-ml1"]], available, "550.144.03", suite => suite.StartsWith("bookworm", StringComparison.Ordinal));

        Assert.Equal(("libnvidia-ml1=550.144.03-1", "file:/srv/flat ./"), (chosen!.Single().Pin, chosen!.Single().Repository));
    }

    [Fact]
    public void ParseSources_NamesEachRecordsSourcePackage_WithoutItsVersionOrTheBinaryItself()
    {
        var sources = AptPinning.ParseSources("""
            Package: libcuda1
            Version: 550.127.05-1
            Source: nvidia-graphics-drivers
            Depends: nvidia-alternative (= 550.127.05-1)

            Package: libnvidia-compute-590
            Version: 595.45.04-0ubuntu0.24.04.1
            Source: nvidia-graphics-drivers-595 (595.45.04-0ubuntu0.24.04.1)

            Package: nvidia-installer-cleanup
            Version: 20151021+13

            Package: evil
            Version: 1;rm -rf /
            """);

        Assert.Equal(["nvidia-graphics-drivers-595=595.45.04-0ubuntu0.24.04.1", "nvidia-graphics-drivers=550.127.05-1", "nvidia-installer-cleanup=20151021+13"],
            sources.Select(s => $"{s.Key}={s.Value}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Preferences_PinsEachSourceAtItsVersionAbove1000()
    {
        var lines = AptPinning.Preferences("550.127.05", new Dictionary<string, string> { ["src:nvidia-graphics-drivers"] = "550.127.05-1" });

        Assert.Equal(["Package: src:nvidia-graphics-drivers", "Pin: version 550.127.05-1", "Pin-Priority: 1001"], lines.Skip(1));
        Assert.StartsWith("Explanation: ", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Record_KeepsTheOwnersHoldsOutOfGpuLxcsRecord_WhenTheyWereHeldBefore()
    {
        var record = AptPinning.Record(new HashSet<string> { "libnvidia-ml1" }, new HashSet<string> { "libnvidia-ml1", "nvidia-smi" }, ["libnvidia-ml1", "nvidia-smi", "libcuda1"]);

        Assert.Equal(["libcuda1", "libnvidia-ml1"], record);
    }

    [Theory]
    [InlineData("ii |libnvidia-ml1|550.127.05-1", true)]
    [InlineData("hi |libnvidia-ml1|550.127.05-1", true)]
    [InlineData("rc |libnvidia-ml1|550.127.05-1", false)]
    [InlineData("iU |libnvidia-ml1|550.127.05-1", false)]
    [InlineData("iF |libnvidia-ml1:amd64|550.127.05-1", false)]
    [InlineData("iHR|libnvidia-ml1|550.127.05-1", false)]
    public void ParseStatus_CountsOnlyInstalledAndConfigured(string line, bool installed)
    {
        var status = AptPinning.ParseStatus(line);

        Assert.Equal(installed, AptPinning.IsInstalled(status["libnvidia-ml1"].Status));
        Assert.Equal("550.127.05-1", status["libnvidia-ml1"].Version);
    }

    [Fact]
    public void FailureLines_KeepsAptsErrorsAndUnmetDependencies()
    {
        var lines = AptPinning.FailureLines("""
            Reading package lists...
            The following packages have unmet dependencies:
             libcuda1 : Depends: nvidia-alternative (= 550.127.05-1) but 550.163.01-0+deb12u1 is to be installed
            E: Unable to correct problems, you have held broken packages.
            """);

        Assert.Equal(
        [
            "The following packages have unmet dependencies:",
            "libcuda1 : Depends: nvidia-alternative (= 550.127.05-1) but 550.163.01-0+deb12u1 is to be installed",
            "E: Unable to correct problems, you have held broken packages.",
        ], lines);
    }

    [Fact]
    public void Fix_SaysDpkgConfigure_WhenDpkgFailedWhileAptAlsoChangedHeldPackages()
    {
        var fix = AptPinning.Fix("101", "The following held packages will be changed:\n libcuda1\nE: Sub-process /usr/bin/dpkg returned an error code (1)\n", "550.120");

        Assert.Contains("dpkg --configure -a", fix, StringComparison.Ordinal);
    }

    [Fact]
    public void CachedPath_IsTheLoadersSixtyFourBitLibrary()
    {
        var path = NvmlLibraries.CachedPath("""
            1234 libs found in cache `/etc/ld.so.cache'
            	libnvidia-ml.so.1 (libc6) => /lib/i386-linux-gnu/libnvidia-ml.so.1
            	libnvidia-ml.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libnvidia-ml.so.1
            	libnvidia-ml.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libnvidia-ml.so
            """);

        Assert.Equal("/lib/x86_64-linux-gnu/libnvidia-ml.so.1", path);
    }
}
