using System.Diagnostics;

namespace GpuLxc.Api.Tests.Support;

/// <summary>What the real-LXC test classes do with the containers they make: run in them, wait for them, remove them.</summary>
internal static class RealLxc
{
    /// <summary>A shell script inside container <paramref name="name"/>; its stdout and stderr together, never failing.</summary>
    public static string Inside(string name, string script) =>
        HostTree.Run("lxc-attach", "-n", name, "--", "/bin/sh", "-c", $"{{ {script}; }} 2>&1; true");

    /// <summary>Waits up to 10 s for LXC to say the container runs; fails the test otherwise.</summary>
    public static void WaitRunning(string name)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (HostTree.Run("lxc-info", "-n", name, "-s", "-H").Trim() == "RUNNING")
            {
                return;
            }

            Thread.Sleep(100);
        }

        Assert.Fail($"{name} did not start");
    }

    /// <summary>Runs a clean-up command whose failure does not matter (the container may be gone already).</summary>
    public static void RunQuietly(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        process.WaitForExit();
    }

    /// <summary>Throws (so the class fails, never skips) when the machine cannot run real LXC tests.</summary>
    public static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"Real LXC tests cannot run: {what}.");
        }
    }
}
