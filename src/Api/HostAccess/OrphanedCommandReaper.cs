namespace GpuLxc.Api.HostAccess;

/// <summary>
/// At start, before the job server takes any job, ends the host commands a killed process of this service left
/// running (<see cref="HostCommandLedger"/>): SIGTERM to the command's whole session, SIGKILL after
/// <see cref="Grace"/>. Ending rather than waiting: the job that ran the command is gone, so nobody will read its
/// output or act on its result, and an apt or dpkg left running would hold the package lock for the next job (a
/// dpkg cut short is repaired by the next install's <c>dpkg --configure -a</c> step).
/// </summary>
internal sealed partial class OrphanedCommandReaper(HostCommandLedger ledger, ILogger<OrphanedCommandReaper> logger) : IHostedService
{
    /// <summary>How long a command may take to end after SIGTERM.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var entry in ledger.Entries())
        {
            try
            {
                if (HostCommandLedger.IsRunning(entry))
                {
                    var ended = await HostCommandLedger.EndSessionAsync(entry, Grace, cancellationToken);
                    LogEnded(logger, entry.Command, entry.Pid, entry.StartedAt, ended);
                }

                ledger.Forget(entry.Pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogFailed(logger, e, entry.Command, entry.Pid);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Ended `{Command}` (pid {Pid}, started {StartedAt:u}, {Processes} process(es)): a killed GpuLxc left it running")]
    private static partial void LogEnded(ILogger logger, string command, int pid, DateTimeOffset startedAt, int processes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not end `{Command}` (pid {Pid}) that a killed GpuLxc left running")]
    private static partial void LogFailed(ILogger logger, Exception exception, string command, int pid);
}
