using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GpuLxc.Api.Health;

/// <summary>
/// <c>/healthz</c>: the process answers. <c>/readyz</c>: every dependency tagged <c>ready</c> works. Both anonymous;
/// an anonymous caller gets each check's status only, a caller with a key also its detail (the data dir's path, the
/// job storage and the node's name are facts about the host, not for whoever can reach the port).
/// </summary>
public static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    public static IServiceCollection AddHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DataDirectoryHealthCheck>("dataDir", tags: [ReadyTag])
            .AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag]);
        return services;
    }

    public static WebApplication MapHealth(this WebApplication app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync })
            .WithName("GetLiveness").AllowAnonymous();
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync })
            .WithName("GetReadiness").AllowAnonymous();
        return app;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var detailed = context.User.Identity?.IsAuthenticated == true;
        var body = new
        {
            status = Name(report.Status),
            checks = report.Entries.ToDictionary(
                entry => entry.Key,
                entry => detailed
                    ? (object)new { status = Name(entry.Value.Status), detail = entry.Value.Description }
                    : new { status = Name(entry.Value.Status) }),
        };
        return context.Response.WriteAsJsonAsync(body, context.RequestAborted);
    }

    private static string Name(HealthStatus status) => status.ToString().ToLowerInvariant();

    /// <summary>The service's SQLite database opens and answers.</summary>
    private sealed class DatabaseHealthCheck(GpuLxcDatabase database) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var connection = await database.OpenAsync(cancellationToken);
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT COUNT(*) FROM lease";
                await command.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy(GpuLxcDatabase.FileName);
            }
            catch (Microsoft.Data.Sqlite.SqliteException e)
            {
                return HealthCheckResult.Unhealthy($"{GpuLxcDatabase.FileName}: {e.Message}");
            }
        }
    }

    /// <summary>Everything the service keeps lives in the data dir: it must be writable.</summary>
    private sealed class DataDirectoryHealthCheck(DataDirectory dataDirectory) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var probe = dataDirectory.File($".ready-{Environment.ProcessId}");
            try
            {
                await File.WriteAllTextAsync(probe, "ok", cancellationToken);
                File.Delete(probe);
                return HealthCheckResult.Healthy(dataDirectory.Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return HealthCheckResult.Unhealthy($"{dataDirectory.Path} is not writable: {e.Message}");
            }
        }
    }
}
