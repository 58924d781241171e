using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// A start that fails ends with one log line and an exit code from sysexits(3), never with an unhandled exception
/// (SIGABRT, exit 134, a stack trace on stderr). A cause the operator can fix is named in a sentence: a setting that
/// does not validate or a data dir that cannot be used (<see cref="ConfigurationExitCode"/>), an address another
/// process holds (<see cref="AddressInUseExitCode"/>). Anything else is logged once with its stack trace and ends
/// with <see cref="SoftwareExitCode"/>.
/// </summary>
public static partial class StartupFailure
{
    /// <summary>EX_CONFIG: a setting or the data dir is wrong; starting again changes nothing, so systemd does not
    /// (<c>RestartPreventExitStatus=78</c> in deploy/gpulxc.service).</summary>
    public const int ConfigurationExitCode = 78;

    /// <summary>EX_TEMPFAIL: another process listens on the address; a later start may find it free.</summary>
    public const int AddressInUseExitCode = 75;

    /// <summary>EX_SOFTWARE: a failure this class has no sentence for.</summary>
    public const int SoftwareExitCode = 70;

    // The host logs a failed start itself, with the exception's stack trace; while RunUntilStoppedAsync starts the
    // service, it reports the failure instead.
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    private static readonly Lock Watching = new();

    /// <summary>
    /// Whether this process is the service itself, not a host that runs its <c>Main</c> (a test's
    /// WebApplicationFactory waits for the start and must see its exception, not an exit code).
    /// </summary>
    private static bool IsTheServiceProcess => System.Reflection.Assembly.GetEntryAssembly() == typeof(StartupFailure).Assembly;
    private static IConfiguration? _configuration;

    /// <summary>
    /// From here on a failure of the start is reported by this class: an exception that escapes <c>Main</c> before
    /// the host runs (registrations, options read eagerly, the data dir) through the process's unhandled-exception
    /// event, and a failure of the host's start through <see cref="RunUntilStoppedAsync"/>.
    /// </summary>
    public static WebApplicationBuilder ReportStartupFailures(this WebApplicationBuilder builder)
    {
        var start = new StartState();
        builder.Services.AddSingleton(start);
        // The host logs nothing at Information; its Debug lines stay at the default level's side of the line.
        builder.Logging.AddFilter(HostCategory, level => level >= LogLevel.Information && !(start.Starting && level >= LogLevel.Error));
        lock (Watching)
        {
            if (_configuration is null)
            {
                // Only what escapes the thread that runs Main is the start's to report: a test host runs Main on a
                // thread of its own and catches what it throws.
                var mainThread = Environment.CurrentManagedThreadId;
                AppDomain.CurrentDomain.UnhandledException += (_, escaped) =>
                {
                    if (Environment.CurrentManagedThreadId == mainThread && escaped.ExceptionObject is Exception exception)
                    {
                        Environment.Exit(ReportBeforeHost(exception));
                    }
                };
            }

            _configuration = builder.Configuration;
        }

        return builder;
    }

    /// <summary>
    /// Starts the service and waits until it is stopped (SIGTERM, Ctrl+C). Returns the process's exit code: 0 after
    /// a stop, or, when the start fails, the code of its cause, after one log line that names it.
    /// </summary>
    public static async Task<int> RunUntilStoppedAsync(this WebApplication app)
    {
        var start = app.Services.GetRequiredService<StartState>();
        start.Starting = true;
        try
        {
            await app.StartAsync();
        }
        catch (Exception exception) when (IsTheServiceProcess)
        {
            var exitCode = Report(app.Services.GetRequiredService<ILoggerFactory>(), exception, app.Configuration);
            // The services that did start are left running until the process exits: stopping them would log their
            // cancellation after the cause. Disposing the log's providers writes out what they still hold.
            foreach (var provider in app.Services.GetServices<ILoggerProvider>())
            {
                provider.Dispose();
            }

            return exitCode;
        }

        start.Starting = false;
        try
        {
            await app.WaitForShutdownAsync();
        }
        finally
        {
            await app.DisposeAsync();
        }

        return 0;
    }

    /// <summary>
    /// The exit code and sentence for a failed start, or <see langword="null"/> for a cause without one. A failure
    /// reading or creating files names the data dir when the failing path is in it (<paramref name="dataDirectory"/>,
    /// an absolute path).
    /// </summary>
    internal static (int ExitCode, string Message)? Explain(Exception exception, string dataDirectory)
    {
        Exception[] causes = exception is AggregateException aggregate ? [.. aggregate.Flatten().InnerExceptions] : [exception];
        if (causes.Length > 0 && causes.All(cause => cause is OptionsValidationException))
        {
            var failures = causes.Cast<OptionsValidationException>().SelectMany(invalid => invalid.Failures);
            return (ConfigurationExitCode, "Invalid configuration: " + string.Join(" ", failures));
        }

        if (causes is not [var only])
        {
            return null;
        }

        // The configuration binder's own refusal ("Failed to convert configuration value 'abc' at 'GpuLxc:Jobs:Workers'
        // to type 'System.Int32'") is a configuration error like a failed validation: one line, and no restart loop.
        if (only is InvalidOperationException && only.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
        {
            var value = ConfigurationValue().Match(only.Message);
            return (ConfigurationExitCode, value.Success
                ? $"Invalid configuration: {value.Groups["key"].Value} is '{value.Groups["value"].Value}', which is {Unfit(value.Groups["value"].Value, value.Groups["type"].Value)}."
                : "Invalid configuration: " + only.Message);
        }

        if (only is IOException && Causes(only).Any(inner => inner is AddressInUseException))
        {
            var address = KestrelBindFailure().Match(only.Message);
            return (AddressInUseExitCode, address.Success
                ? $"Cannot listen on {address.Groups["address"].Value}: the address is in use (another GpuLxc?)"
                : $"Cannot listen: {only.Message} (another GpuLxc?)");
        }

        if (only is IOException or UnauthorizedAccessException && only.Message.Contains(dataDirectory, StringComparison.Ordinal))
        {
            return (ConfigurationExitCode, $"Cannot use the data directory {dataDirectory} ({DataDirectory.ConfigKey}): {only.Message}");
        }

        return null;
    }

    private static int ReportBeforeHost(Exception exception)
    {
        IConfiguration configuration;
        lock (Watching)
        {
            configuration = _configuration!;
        }

        // The host's logging is not built yet (or not any more): one made from the same settings writes the line.
        using var loggers = LoggerFactory.Create(logging => logging.AddConfiguration(configuration.GetSection("Logging")).AddConsole());
        return Report(loggers, exception, configuration);
    }

    private static int Report(ILoggerFactory loggers, Exception exception, IConfiguration configuration)
    {
        var logger = loggers.CreateLogger(typeof(StartupFailure).FullName!);
        if (Explain(exception, Path.GetFullPath(DataDirectory.ResolvePath(configuration))) is var (exitCode, message))
        {
            LogCause(logger, message);
            return exitCode;
        }

        LogUnexplained(logger, exception);
        return SoftwareExitCode;
    }

    private static IEnumerable<Exception> Causes(Exception exception)
    {
        for (var cause = exception.InnerException; cause is not null; cause = cause.InnerException)
        {
            yield return cause;
        }
    }

    // Kestrel's own sentence: "Failed to bind to address http://127.0.0.1:5080: address already in use."
    [GeneratedRegex(@"address (?<address>\S+): address already in use")]
    private static partial Regex KestrelBindFailure();

    [LoggerMessage(EventId = 1, Level = LogLevel.Critical, Message = "{Cause}")]
    private static partial void LogCause(ILogger logger, string cause);

    [LoggerMessage(EventId = 2, Level = LogLevel.Critical, Message = "The service could not start")]
    private static partial void LogUnexplained(ILogger logger, Exception exception);

    /// <summary>Whether <see cref="RunUntilStoppedAsync"/> is starting the host (and so reports its failure).</summary>
    private sealed class StartState
    {
        public volatile bool Starting;
    }

    /// <summary>Why the binder refused <paramref name="value"/>: a whole number too large for the setting is out of
    /// range, not "not a whole number".</summary>
    private static string Unfit(string value, string type) =>
        type.Contains("Int", StringComparison.Ordinal) && System.Numerics.BigInteger.TryParse(value.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out _)
            ? $"out of range (a whole number from {Range(type)})"
            : "not " + Expected(type);

    private static string Range(string type) => type switch
    {
        _ when type.Contains("UInt64", StringComparison.Ordinal) => $"0 to {ulong.MaxValue}",
        _ when type.Contains("Int64", StringComparison.Ordinal) => $"{long.MinValue} to {long.MaxValue}",
        _ when type.Contains("UInt32", StringComparison.Ordinal) => $"0 to {uint.MaxValue}",
        _ when type.Contains("Int16", StringComparison.Ordinal) => $"{short.MinValue} to {short.MaxValue}",
        _ => $"{int.MinValue} to {int.MaxValue}",
    };

    private static string Expected(string type) => type switch
    {
        _ when type.Contains("Int", StringComparison.Ordinal) => "a whole number",
        _ when type.Contains("Double", StringComparison.Ordinal) || type.Contains("Decimal", StringComparison.Ordinal) => "a number",
        _ when type.Contains("Boolean", StringComparison.Ordinal) => "true or false",
        _ when type.Contains("TimeSpan", StringComparison.Ordinal) => "a time span (hh:mm:ss)",
        _ => "a value of the kind this setting takes",
    };

    [GeneratedRegex(@"^Failed to convert configuration value '(?<value>[^']*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConfigurationValue();
}
