using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Jobs.Hosting;

/// <summary>
/// Where background jobs are kept and which of them this node runs (design §2: <c>GpuLxc:Jobs:*</c>); checked by
/// <see cref="JobHostingOptionsValidator"/>. These values are needed before the host starts, not only at start:
/// mapping the Hangfire dashboard resolves the job storage they choose (and, for <c>postgres</c>, installs its
/// schema). A bad value therefore stops the service there, with the same <see cref="OptionsValidationException"/>
/// that <c>ValidateOnStart</c> throws for every other options class.
/// </summary>
public sealed partial class JobHostingOptions
{
    public const string Section = "GpuLxc:Jobs";
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";
    public const string DefaultSchema = "hangfire";

    /// <summary><c>sqlite</c> (embedded, <c>&lt;DataDir&gt;/jobs.db</c>) or <c>postgres</c> (shared by a cluster); any letter case.</summary>
    public string Storage { get; set; } = Sqlite;

    /// <summary>Npgsql connection string; required for <c>postgres</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>PostgreSQL schema of the job tables; nodes of one cluster use the same one.</summary>
    public string Schema { get; set; } = DefaultSchema;

    /// <summary>This node's name: host jobs are queued on its own queue, so they run on the node they target.</summary>
    public string Node { get; set; } = Environment.MachineName;

    /// <summary>Jobs run at once on this node, 1–64 (installs on one target are serialised regardless).</summary>
    public int Workers { get; set; } = 4;

    /// <summary>The queue this node's workers take host jobs from (Hangfire queue names: lower case, digits, '_').</summary>
    public string LocalQueue => "node_" + QueueUnsafe().Replace(Node.ToLowerInvariant(), "_");

    /// <summary>A blank schema or node name means the default; the storage name is compared in lower case.</summary>
    internal void Normalize()
    {
        Storage = Storage.Trim().ToLowerInvariant();
        Schema = string.IsNullOrWhiteSpace(Schema) ? DefaultSchema : Schema.Trim();
        Node = string.IsNullOrWhiteSpace(Node) ? Environment.MachineName : Node.Trim();
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    internal static partial Regex NodeName();

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    internal static partial Regex SchemaName();

    [GeneratedRegex("[^a-z0-9_]")]
    private static partial Regex QueueUnsafe();
}

/// <summary>Each failure names the full setting, the value given and what it may be.</summary>
public sealed class JobHostingOptionsValidator : IValidateOptions<JobHostingOptions>
{
    public ValidateOptionsResult Validate(string? name, JobHostingOptions options)
    {
        const string Section = JobHostingOptions.Section;
        var failures = new List<string>();
        if (options.Storage is not (JobHostingOptions.Sqlite or JobHostingOptions.Postgres))
        {
            failures.Add($"{Section}:Storage is '{options.Storage}': use '{JobHostingOptions.Sqlite}' (default) or '{JobHostingOptions.Postgres}'.");
        }

        if (options.Storage == JobHostingOptions.Postgres && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add($"{Section}:Storage is '{JobHostingOptions.Postgres}' but {Section}:ConnectionString is not set.");
        }

        if (!JobHostingOptions.SchemaName().IsMatch(options.Schema))
        {
            failures.Add($"{Section}:Schema is '{options.Schema}': use lower-case letters, digits and '_' (at most 63).");
        }

        if (!JobHostingOptions.NodeName().IsMatch(options.Node))
        {
            failures.Add($"{Section}:Node is '{options.Node}': use a host name (letters, digits, '-', '_' and '.', at most 63 characters).");
        }

        if (options.Workers is < 1 or > 64)
        {
            failures.Add($"{Section}:Workers is {options.Workers}: use 1 to 64.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
