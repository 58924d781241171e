using System.Text.RegularExpressions;

namespace GpuLxc.Api.Jobs.Hosting;

/// <summary>
/// Where background jobs are kept and which of them this node runs (design §2: <c>GpuLxc:Jobs:*</c>).
/// </summary>
public sealed partial class JobHostingOptions
{
    public const string Section = "GpuLxc:Jobs";
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary><c>sqlite</c> (embedded, <c>&lt;DataDir&gt;/jobs.db</c>) or <c>postgres</c> (shared by a cluster).</summary>
    public string Storage { get; init; } = Sqlite;

    /// <summary>Npgsql connection string; required for <c>postgres</c>.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>PostgreSQL schema of the job tables; nodes of one cluster use the same one.</summary>
    public string Schema { get; init; } = "hangfire";

    /// <summary>This node's name: host jobs are queued on its own queue, so they run on the node they target.</summary>
    public string Node { get; init; } = Environment.MachineName;

    /// <summary>Jobs run at once on this node (installs on one target are serialised regardless).</summary>
    public int Workers { get; init; } = 4;

    /// <summary>The queue this node's workers take host jobs from (Hangfire queue names: lower case, digits, '_').</summary>
    public string LocalQueue => "node_" + QueueUnsafe().Replace(Node.ToLowerInvariant(), "_");

    public static JobHostingOptions From(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var options = new JobHostingOptions
        {
            Storage = (section["Storage"] ?? Sqlite).Trim().ToLowerInvariant(),
            ConnectionString = section["ConnectionString"],
            Schema = string.IsNullOrWhiteSpace(section["Schema"]) ? "hangfire" : section["Schema"]!.Trim(),
            Node = string.IsNullOrWhiteSpace(section["Node"]) ? Environment.MachineName : section["Node"]!.Trim(),
            Workers = section.GetValue("Workers", 4),
        };
        options.Validate();
        return options;
    }

    private void Validate()
    {
        if (Storage is not (Sqlite or Postgres))
        {
            throw new InvalidOperationException($"{Section}:Storage is '{Storage}': use '{Sqlite}' (default) or '{Postgres}'.");
        }

        if (Storage == Postgres && string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new InvalidOperationException($"{Section}:Storage is '{Postgres}' but {Section}:ConnectionString is not set.");
        }

        if (!SchemaName().IsMatch(Schema))
        {
            throw new InvalidOperationException($"{Section}:Schema is '{Schema}': use lower-case letters, digits and '_' (at most 63).");
        }

        if (!NodeName().IsMatch(Node))
        {
            throw new InvalidOperationException(
                $"{Section}:Node is '{Node}': use a host name (letters, digits, '-', '_' and '.', at most 63 characters).");
        }

        if (Workers is < 1 or > 64)
        {
            throw new InvalidOperationException($"{Section}:Workers is {Workers}: use 1 to 64.");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NodeName();

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();

    [GeneratedRegex("[^a-z0-9_]")]
    private static partial Regex QueueUnsafe();
}
