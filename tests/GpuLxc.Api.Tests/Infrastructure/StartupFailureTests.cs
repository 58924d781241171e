using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Tests.Deployment;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>
/// The built service, started as a process (<c>dotnet GpuLxc.Api.dll</c> from this test's output) the way an operator
/// starts it, and stopped at once by a cause the operator must fix. Ports 5150–5159 are this class's.
/// </summary>
public sealed class StartupFailureTests : IDisposable
{
    private readonly HostTree _host = HostTree.Proxmox();
    private readonly string _work = Directory.CreateTempSubdirectory("gpulxc-start-").FullName;

    [Fact]
    public void ASecondInstanceOnABusyPortExitsWithOneLineNamingTheAddress()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 5150);
        holder.Start();

        var run = Start(new() { ["Urls"] = "http://127.0.0.1:5150" });

        Assert.Equal(StartupFailure.AddressInUseExitCode, run.ExitCode);
        AssertOneLine(run, "Cannot listen on http://127.0.0.1:5150: the address is in use (another GpuLxc?)");
    }

    [Fact]
    public void AnInvalidSettingExitsWithTheConfigurationCodeAndOneLineNamingTheSetting()
    {
        var run = Start(new() { ["Urls"] = "http://127.0.0.1:5151", ["GpuLxc__Host__Backend"] = "bogus" });

        Assert.Equal(StartupFailure.ConfigurationExitCode, run.ExitCode);
        var line = AssertOneLine(run, "Invalid configuration: ");
        Assert.Contains("GpuLxc:Host:Backend", line, StringComparison.Ordinal);
    }

    [Fact]
    public void ADataDirThatCannotBeCreatedExitsWithTheConfigurationCodeAndOneLineNamingIt()
    {
        var file = Path.Join(_work, "a-file");
        File.WriteAllText(file, "not a directory");
        var dataDir = Path.Join(file, "data");

        var run = Start(new() { ["Urls"] = "http://127.0.0.1:5152", ["GpuLxc__DataDir"] = dataDir });

        Assert.Equal(StartupFailure.ConfigurationExitCode, run.ExitCode);
        AssertOneLine(run, $"Cannot use the data directory {dataDir} (GpuLxc:DataDir): ");
    }

    [Fact]
    public void ASecondInstanceOnADataDirInUseExitsWithTheConfigurationCodeAndChangesNothingInIt()
    {
        var dataDir = Path.Join(_work, "shared-data");
        using var owner = new DataDirectory(dataDir);
        var before = Directory.GetFileSystemEntries(dataDir, "*", SearchOption.AllDirectories).Order().ToArray();

        var run = Start(new() { ["Urls"] = "http://127.0.0.1:5153", ["GpuLxc__DataDir"] = dataDir });

        Assert.Equal(StartupFailure.ConfigurationExitCode, run.ExitCode);
        var line = AssertOneLine(run, $"Cannot use the data directory {dataDir} (GpuLxc:DataDir): ");
        Assert.Contains("another GpuLxc uses this data directory", line, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFileSystemEntries(dataDir, "*", SearchOption.AllDirectories).Order().ToArray());
    }

    public void Dispose()
    {
        _host.Dispose();
        HostTree.DeleteDirectory(_work);
    }

    /// <summary>The one log entry at error level or above: it contains <paramref name="expected"/>, and no stack trace follows it.</summary>
    private static string AssertOneLine(ProcessResult run, string expected)
    {
        var lines = run.Output.Split('\n');
        Assert.DoesNotContain(lines, line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.DoesNotContain("Unhandled exception", run.Output, StringComparison.Ordinal);
        Assert.Single(lines, line => line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal));
        return Assert.Single(lines, line => line.Contains(expected, StringComparison.Ordinal));
    }

    private ProcessResult Start(Dictionary<string, string> settings)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Join(AppContext.BaseDirectory, "GpuLxc.Api.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _work,
        };
        foreach (var inherited in start.Environment.Keys.Where(IsServiceSetting).ToList())
        {
            start.Environment.Remove(inherited);
        }

        start.Environment["GpuLxc__Host__Root"] = _host.Root;
        start.Environment["GpuLxc__Host__BinPath"] = _host.BinDir;
        start.Environment["GpuLxc__DataDir"] = Path.Join(_work, "data");
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("The service did not exit within a minute:\n" + output.Result + error.Result);
        }

        return new ProcessResult(process.ExitCode, output.Result, error.Result);
    }

    private static bool IsServiceSetting(string name) =>
        name.StartsWith("GpuLxc", StringComparison.OrdinalIgnoreCase) || name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase) ||
        name.StartsWith("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase) ||
        name.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase) || name is "Urls" or "URLS" or "STATE_DIRECTORY";
}
