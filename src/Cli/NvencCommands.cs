using System.CommandLine;
using System.Globalization;
using GpuLxc.Client;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary><c>nvenc status|lease|release</c>: the NVENC session budget and leases on it.</summary>
public static class NvencCommands
{
    public static IEnumerable<Command> Create(CliHost host)
    {
        var nvenc = new Command("nvenc", "The NVENC session budget");

        var status = new Command("status", "The budget: limit and its source, in use, available, leases and observed sessions");
        status.Handle(host, StatusAsync);
        nvenc.Subcommands.Add(status);

        var holder = new Option<string>("--holder") { Description = "Who holds the lease (jellyfin, plex, …)", Required = true };
        var container = new Option<string?>("--container") { Description = "The container that will encode (none: the host)" };
        var gpu = new Option<string?>("--gpu") { Description = "The GPU, with a per-GPU budget" };
        var ttl = CliOptions.Number("--ttl", "Seconds until the lease lapses unless renewed (5-86400)", 5, 86_400);
        var wait = CliOptions.Number("--wait", "Seconds to wait in line when the budget is full (0-300; else exit 3 at once)", 0, 300);
        var lease = new Command("lease", "Take a lease on one encode session; prints the lease (its id releases it)") { holder, container, gpu, ttl, wait };
        lease.Handle(host, async context =>
        {
            var taken = await context.Client.AcquireLeaseAsync(new LeaseRequest
            {
                Holder = context.Get(holder),
                ContainerId = context.Get(container),
                GpuId = context.Get(gpu),
                TtlSeconds = context.Get(ttl),
                WaitSeconds = context.Get(wait),
            }, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(taken);
            }
            else
            {
                context.Out.MarkupLineInterpolated($"lease [bold]{taken.Id}[/] for {taken.Holder} on {taken.Budget}, until {taken.ExpiresAt.ToLocalTime():HH:mm:ss}");
            }

            return ExitCodes.Ok;
        });
        nvenc.Subcommands.Add(lease);

        var leaseId = new Argument<string>("lease") { Description = "The lease's id" };
        var release = new Command("release", "Give a lease back") { leaseId };
        release.Handle(host, async context =>
        {
            await context.Client.ReleaseLeaseAsync(context.Get(leaseId), context.CancellationToken);
            if (!context.Json)
            {
                context.Out.MarkupLineInterpolated($"released {context.Get(leaseId)}");
            }

            return ExitCodes.Ok;
        });
        nvenc.Subcommands.Add(release);
        yield return nvenc;
    }

    private static async Task<int> StatusAsync(CommandContext context)
    {
        var status = await context.Client.GetNvencAsync(context.CancellationToken);
        if (context.Json)
        {
            context.WriteJson(status);
            return ExitCodes.Ok;
        }

        var budgets = new Table().Border(TableBorder.Rounded).AddColumns("budget", "limit", "source", "in use", "available", "leases", "observed");
        foreach (var budget in status.Budgets)
        {
            budgets.AddRow(budget.Key, budget.Limit?.ToString(CultureInfo.InvariantCulture) ?? "unlimited", Output.Name(budget.LimitSource),
                budget.InUse.ToString(CultureInfo.InvariantCulture), budget.Available?.ToString(CultureInfo.InvariantCulture) ?? "∞",
                budget.Leases.ToString(CultureInfo.InvariantCulture), budget.Observed.ToString(CultureInfo.InvariantCulture));
        }

        context.Out.Write(budgets);
        if (status.Leases.Count > 0)
        {
            var leases = new Table().Border(TableBorder.Rounded).AddColumns("lease", "holder", "container", "budget", "expires");
            foreach (var lease in status.Leases)
            {
                leases.AddRow(lease.Id, lease.Holder, lease.ContainerId ?? "host", lease.Budget, lease.ExpiresAt.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture));
            }

            context.Out.Write(leases);
        }

        return ExitCodes.Ok;
    }
}
