using System.Globalization;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// A fault-injection hook for the crash tests (issue 15): with <c>GPULXC_TEST_CRASH_AT=&lt;step&gt;</c> (or
/// <c>&lt;step&gt;#&lt;n&gt;</c>, the n-th time the step is reached; n from 1) in the environment, the process kills itself
/// with SIGKILL when it reaches that step, as a power cut or the OOM killer would. The variable is read once, at the
/// first step reached; unset — always, outside those tests — a step costs one comparison.
/// </summary>
public static class CrashPoints
{
    public const string Variable = "GPULXC_TEST_CRASH_AT";

    /// <summary>The steps of an attachment edit, in order: backup written, intent stored, temporary config created and written, renamed, record saved.</summary>
    public const string BackupWritten = "backup-written", IntentWritten = "intent-written", TemporaryCreated = "temp-created",
        TemporaryWritten = "temp-written", Renamed = "renamed", Recorded = "recorded";

    private static readonly (string Step, int Nth)? Armed = Parse(Environment.GetEnvironmentVariable(Variable));
    private static int _reached;

    /// <summary>Kills this process with SIGKILL when <paramref name="step"/> is the armed one, reached for the armed time.</summary>
    public static void Reach(string step)
    {
        if (Armed is { } armed && armed.Step == step && Interlocked.Increment(ref _reached) == armed.Nth)
        {
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }
    }

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var parts = value.Split('#', 2);
        return (parts[0], parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 1);
    }
}
