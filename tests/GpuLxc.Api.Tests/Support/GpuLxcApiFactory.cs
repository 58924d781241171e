using System.Collections.Concurrent;
using GpuLxc.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GpuLxc.Api.Tests.Support;

/// <summary>
/// The real service over a prepared host tree, with its own data dir and keys. Each test makes its own and
/// disposes it; the host tree and data dir go with it, unless <paramref name="ownsHost"/> is false (a restart test
/// starts a second service over the same host). Every answer is held to the contract (<see cref="ContractCheck"/>):
/// disposing fails the test when one broke it.
/// </summary>
public sealed class GpuLxcApiFactory(HostTree? host = null, bool configureKeys = true, bool ownsHost = true) : WebApplicationFactory<Program>
{
    public HostTree Host { get; } = host ?? HostTree.Proxmox();

    public string DataDir { get; } = Directory.CreateTempSubdirectory("gpulxc-data-").FullName;

    /// <summary>Every log line the service wrote, formatted.</summary>
    public ConcurrentQueue<string> Logs { get; } = new();

    public Dictionary<string, string?> Settings { get; } = new();

    /// <summary>The answers that broke the contract: an undeclared status, or an error that is not a complete problem.</summary>
    public IReadOnlyCollection<string> ContractViolations => _contract.Violations;

    private readonly ContractCheck _contract = new();

    /// <summary>Replaces services after the service's own registrations (a test clock, a fake NVML).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; set; }

    public IGpuLxcClient CreateGpuLxcClient(string? key = TestKeys.Admin) => new GpuLxcClient(CreateKeyedClient(key));

    public HttpClient CreateKeyedClient(string? key = TestKeys.Admin)
    {
        var http = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = ClientOptions.BaseAddress });
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        }

        return http;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("GpuLxc:Host:Root", Host.Root);
        builder.UseSetting("GpuLxc:Host:BinPath", Host.BinDir);
        builder.UseSetting("GpuLxc:DataDir", DataDir);
        if (configureKeys)
        {
            foreach (var (name, (key, scopes)) in TestKeys.ByName)
            {
                builder.UseSetting($"GpuLxc:Auth:ApiKeys:{name}:Key", key);
                builder.UseSetting($"GpuLxc:Auth:ApiKeys:{name}:Scopes", scopes);
            }
        }

        foreach (var (key, value) in Settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.AddProvider(new CollectingLoggerProvider(Logs)));
        builder.ConfigureServices(services => services.AddSingleton<IStartupFilter>(_contract));
        if (ConfigureServices is { } configure)
        {
            builder.ConfigureTestServices(configure);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            if (ownsHost)
            {
                Host.Dispose();
            }

            HostTree.DeleteDirectory(DataDir);
            if (!_contract.Violations.IsEmpty)
            {
                throw new InvalidOperationException("Answers the OpenAPI contract does not allow:\n" + string.Join("\n", _contract.Violations.Distinct()));
            }
        }
    }

    private sealed class CollectingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CollectingLogger(categoryName, lines);

        public void Dispose()
        {
        }
    }

    private sealed class CollectingLogger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : "\n" + exception)}");
    }
}
