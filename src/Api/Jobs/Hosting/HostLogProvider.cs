using Hangfire.AspNetCore;
using Hangfire.Logging;

namespace GpuLxc.Api.Jobs.Hosting;

/// <summary>
/// Hangfire's log provider is process-wide, but a logger factory belongs to one host. When a second host in the
/// process (tests start many) has disposed the factory the provider points at, asking it for a logger would throw
/// — inside Hangfire's and Hangfire.PostgreSql's static initialisers, too. This provider answers with a logger that
/// drops its messages instead, so logging can never break a job or a start.
/// </summary>
internal sealed class HostLogProvider(ILoggerFactory loggerFactory) : ILogProvider
{
    private readonly AspNetCoreLogProvider _inner = new(loggerFactory);

    public ILog GetLogger(string name)
    {
        try
        {
            return _inner.GetLogger(name);
        }
        catch (ObjectDisposedException)
        {
            return Silent.Instance;
        }
    }

    private sealed class Silent : ILog
    {
        public static readonly Silent Instance = new();

        public bool Log(global::Hangfire.Logging.LogLevel logLevel, Func<string> messageFunc, Exception exception) => false;
    }
}
