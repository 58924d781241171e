using Hangfire;

namespace GpuLxc.Hangfire.Sqlite.TestHost;

/// <summary>Leaves a marker per run; runs until the test drops a "finish" file into the marker directory.</summary>
public static class MarkerJob
{
    [AutomaticRetry(Attempts = 0)]
    public static void Run(string markers)
    {
        File.WriteAllText(Path.Join(markers, $"started-{Environment.ProcessId}-{Guid.NewGuid():N}"), "");
        while (!File.Exists(Path.Join(markers, "finish")))
        {
            Thread.Sleep(50);
        }

        File.WriteAllText(Path.Join(markers, $"finished-{Environment.ProcessId}"), "");
    }
}
