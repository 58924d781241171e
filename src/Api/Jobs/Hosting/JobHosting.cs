using GpuLxc.Api.Auth;
using GpuLxc.Api.Health;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Hangfire.Sqlite;
using Hangfire;
using Hangfire.AspNetCore;
using Hangfire.Common;
using Hangfire.Dashboard;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Npgsql;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Jobs.Hosting;

/// <summary>
/// Hangfire in the service: the storage chosen by <c>GpuLxc:Jobs:Storage</c>, a job server that works this node's
/// queue and the shared <c>default</c> queue, jobs activated from DI, and the dashboard at <c>/hangfire</c> for
/// admin keys.
/// </summary>
public static partial class JobHosting
{
    public const string DashboardPath = "/hangfire";
    public const string SharedQueue = "default";

    public static IServiceCollection AddJobHosting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<JobHostingOptions>()
            .Bind(configuration.GetSection(JobHostingOptions.Section))
            .PostConfigure(options => options.Normalize())
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobHostingOptions>, JobHostingOptionsValidator>());
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<JobHostingOptions>>().Value);
        // Hangfire's dashboard puts a token into its pages and checks it on every POST once antiforgery is registered.
        services.AddAntiforgery();

        // Registered before AddHangfire, which only adds a storage when none is there: each service instance (and
        // each test host) keeps its own storage instead of Hangfire's process-wide JobStorage.Current.
        services.AddSingleton<JobStorage>(provider =>
        {
            var options = provider.GetRequiredService<JobHostingOptions>();
            return options.Storage switch
            {
                JobHostingOptions.Postgres => Postgres(options),
                _ => new SqliteStorage(provider.GetRequiredService<DataDirectory>().PrivateFile(JobsDatabaseFile)),
            };
        });
        // Likewise the job activator: Hangfire's default hands out the process-wide JobActivator.Current, which is
        // the last-configured host's. Jobs are built from this service's own container.
        services.AddSingleton<JobActivator>(provider => new AspNetCoreJobActivator(provider.GetRequiredService<IServiceScopeFactory>()));
        services.AddHangfire((provider, configuration) => configuration
            .UseLogProvider(new HostLogProvider(provider.GetRequiredService<ILoggerFactory>()))
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseStorage(provider.GetRequiredService<JobStorage>()));
        services.AddHangfireServer((provider, server) =>
        {
            var options = provider.GetRequiredService<JobHostingOptions>();
            // This host's own activator and filters, not the process-wide ones Hangfire's static configuration
            // holds: jobs are resolved from this service's container even when a process hosts several (tests).
            server.Activator = provider.GetRequiredService<JobActivator>();
            server.FilterProvider = provider.GetRequiredService<IJobFilterProvider>();
            server.ServerName = options.Node;
            server.Queues = [options.LocalQueue, SharedQueue];
            server.WorkerCount = options.Workers;
        });
        services.AddHealthChecks().AddCheck<JobServerHealthCheck>("jobs", tags: [HealthEndpoints.ReadyTag]);
        return services;
    }

    public const string JobsDatabaseFile = "jobs.db";

    /// <summary>
    /// One PostgreSQL database for a cluster: every node's server shares it, and each works only its own queue
    /// (plus the shared one), so a host job runs on the node it targets. LISTEN/NOTIFY wakes workers at once.
    /// </summary>
    private static PostgreSqlStorage Postgres(JobHostingOptions options)
    {
        InstallPostgresSchema(options);
        var storageOptions = new PostgreSqlStorageOptions
        {
            SchemaName = options.Schema,
            // Installed above, explicitly and under a lock: never deferred or skipped behind the service's back.
            PrepareSchemaIfNecessary = false,
            EnableLongPolling = true,
            UseSlidingInvisibilityTimeout = true,
        };
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(options.ConnectionString!, storageOptions), storageOptions);
    }

    /// <summary>
    /// Creates or upgrades the job tables before the storage is used. Nodes of a cluster starting together take
    /// turns through an advisory lock; a database that cannot be reached stops the start with the reason.
    /// </summary>
    private static void InstallPostgresSchema(JobHostingOptions options)
    {
        using var connection = new NpgsqlConnection(options.ConnectionString);
        try
        {
            connection.Open();
        }
        catch (Exception e) when (e is NpgsqlException or ArgumentException)
        {
            throw new InvalidOperationException(
                $"{JobHostingOptions.Section}:ConnectionString: the PostgreSQL job database cannot be opened: {e.Message}", e);
        }

        using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(hashtext('gpulxc-jobs-schema'))", connection))
        {
            take.ExecuteNonQuery();
        }

        PostgreSqlObjectsInstaller.Install(connection, options.Schema);
        using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtext('gpulxc-jobs-schema'))", connection);
        release.ExecuteNonQuery();
    }

    /// <summary>
    /// The Hangfire dashboard; it answers only requests with an admin key (bearer, X-Api-Key or the Basic password),
    /// and only same-origin requests with Hangfire's anti-forgery token may change anything (<see cref="DashboardProtection"/>).
    /// </summary>
    public static IEndpointConventionBuilder MapJobDashboard(this WebApplication app)
    {
        app.UseMiddleware<DashboardProtection>();
        var dashboard = new DashboardOptions
        {
            DashboardTitle = "GpuLxc jobs",
            AppPath = null,
            // Access is decided by the endpoint's authorization policy, not by Hangfire's local-requests-only default.
            Authorization = [],
            AsyncAuthorization = [],
            DisplayStorageConnectionString = false,
        };
        return app.MapHangfireDashboard(DashboardPath, dashboard, app.Services.GetRequiredService<JobStorage>())
            .RequireAuthorization(Scopes.PolicyName(Scopes.Admin));
    }

    /// <summary>Ready when the job storage answers and this node's job server has announced itself.</summary>
    private sealed partial class JobServerHealthCheck(JobStorage storage, JobHostingOptions options, ILogger<JobServerHealthCheck> logger) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var prefix = options.Node + ":";
                var servers = storage.GetMonitoringApi().Servers();
                return Task.FromResult(servers.Any(s => s.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    ? HealthCheckResult.Healthy($"{Describe()}; server {options.Node} on queues {options.LocalQueue}, {SharedQueue}")
                    : HealthCheckResult.Unhealthy($"{Describe()}: the job server of node {options.Node} has not started."));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogUnhealthy(logger, e);
                return Task.FromResult(HealthCheckResult.Unhealthy($"{Describe()}: {e.GetType().Name}"));
            }
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "The job storage did not answer the readiness check.")]
        private static partial void LogUnhealthy(ILogger logger, Exception exception);

        // The readiness answer is anonymous: it names the storage, never a connection string or host.
        private string Describe() => options.Storage == JobHostingOptions.Postgres
            ? $"PostgreSQL job storage (schema {options.Schema})"
            : $"SQLite job storage ({JobsDatabaseFile})";
    }
}
