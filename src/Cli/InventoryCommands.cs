using System.CommandLine;
using GpuLxc.Client;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary><c>host</c>, <c>gpus</c>, <c>doctor</c>, <c>containers</c>: what the host has, read-only.</summary>
public static class InventoryCommands
{
    public static IEnumerable<Command> Create(CliHost host)
    {
        var hostCommand = new Command("host", "The host: kernel, distribution, backend (proxmox / lxc), cgroup version, Secure Boot, and its NVIDIA driver");
        hostCommand.Handle(host, ShowHostAsync);
        yield return hostCommand;

        var refresh = new Option<bool>("--refresh") { Description = "Reread the GPU topology instead of the cached one" };
        var gpus = new Command("gpus", "Every NVIDIA GPU: index, name, PCI address, UUID, kernel driver, NVENC sessions, a VM it is passed through to") { refresh };
        gpus.Handle(host, context => ListGpusAsync(context, context.Get(refresh)));
        yield return gpus;

        var doctor = new Command("doctor", "Run the diagnostics: every check with its status and the fix (exit code 1 when one fails)");
        doctor.Handle(host, DoctorAsync);
        yield return doctor;

        var containers = new Command("containers", "Containers with their status, privilege, lock and GPU attachment (with drift)");
        containers.Handle(host, ListContainersAsync);
        yield return containers;
    }

    private static async Task<int> ShowHostAsync(CommandContext context)
    {
        var info = await context.Client.GetHostAsync(context.CancellationToken);
        var driver = await context.Client.GetHostDriverAsync(context.CancellationToken);
        if (context.Json)
        {
            context.WriteJson(new { host = info, driver });
            return ExitCodes.Ok;
        }

        context.Out.Write(Output.Facts(
            ("hostname", info.Hostname),
            ("kernel", info.KernelRelease),
            ("os", info.Os?.PrettyName),
            ("backend", $"{Output.Name(info.Backend)} ({Output.Name(info.BackendSource)})"),
            ("proxmox", info.ProxmoxVersion),
            ("cgroup", Output.Name(info.CgroupVersion)),
            ("secure boot", info.SecureBoot),
            ("driver loaded", driver.LoadedVersion ?? "none"),
            ("driver installed", driver.InstalledVersion),
            ("flavor", Output.Name(driver.Flavor)),
            ("device nodes complete", Output.YesNo(driver.DeviceNodesComplete)),
            ("reboot required", Output.YesNo(driver.RebootRequired))));
        foreach (var note in info.Notes.Concat(driver.Notes))
        {
            context.Out.MarkupLineInterpolated($"[grey]note:[/] {note}");
        }

        return ExitCodes.Ok;
    }

    private static async Task<int> ListGpusAsync(CommandContext context, bool refresh)
    {
        var list = await context.Client.ListGpusAsync(refresh ? true : null, context.CancellationToken);
        if (context.Json)
        {
            context.WriteJson(list);
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("index", "vendor", "name", "pci", "uuid", "driver", "dri", "nvenc", "passed to VM");
        foreach (var gpu in list.Gpus)
        {
            var nvenc = gpu.Nvenc is { Supported: true } n ? $"{n.SessionCount}/{(n.Limit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "∞")}" : "—";
            table.AddRow(gpu.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), "nvidia", gpu.Name ?? "—", gpu.PciAddress, gpu.Uuid ?? "—",
                gpu.KernelDriver ?? "none", Dri(gpu.DrmNodes), nvenc, gpu.AssignedTo is { } vm ? $"{vm.Vm} ({vm.Entry})" : "");
        }

        // Another vendor's GPU has no index, UUID or NVENC: GpuLxc passes only its DRM nodes (attach --drm).
        foreach (var gpu in list.OtherGpus ?? [])
        {
            table.AddRow("—", gpu.Vendor, "—", gpu.PciAddress, "—", gpu.KernelDriver, Dri(gpu.DrmNodes), "—", "");
        }

        context.Out.Write(table);
        context.Out.MarkupLineInterpolated($"[grey]driver {list.DriverVersion ?? "not loaded"}, from {list.Source}[/]");
        return ExitCodes.Ok;
    }

    /// <summary>A GPU's DRM nodes by their names now (<c>card1 renderD129</c>), or a dash.</summary>
    private static string Dri(ICollection<DrmNode>? nodes) =>
        nodes is { Count: > 0 } ? string.Join(" ", nodes.Select(n => Path.GetFileName(n.Path))) : "—";

    private static async Task<int> DoctorAsync(CommandContext context)
    {
        var report = await context.Client.GetDiagnosticsAsync(context.CancellationToken);
        if (context.Json)
        {
            context.WriteJson(report);
        }
        else
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumns("", "check", "found", "fix");
            foreach (var check in report.Checks)
            {
                var colour = Output.Colour(check.Status);
                table.AddRow(new Markup($"[{colour}]{Output.Name(check.Status)}[/]"), new Text(check.Title),
                    new Text(check.Detail ?? ""), new Markup(check.Fix is null ? "" : $"[{colour}]{Markup.Escape(check.Fix)}[/]"));
            }

            context.Out.Write(table);
            context.Out.MarkupLine($"overall: [{Output.Colour(report.Status)}]{Output.Name(report.Status)}[/]");
        }

        return report.Status == CheckStatus.Fail ? ExitCodes.Failure : ExitCodes.Ok;
    }

    private static async Task<int> ListContainersAsync(CommandContext context)
    {
        var containers = await context.Client.ListContainersAsync(context.CancellationToken);
        if (context.Json)
        {
            context.WriteJson(containers);
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Rounded).AddColumns("id", "name", "status", "unprivileged", "lock", "gpu", "drift");
        foreach (var container in containers)
        {
            var drift = container.Attachment?.Drift;
            table.AddRow(new Text(container.Id), new Text(container.Name ?? ""), new Text(Output.Name(container.Status)),
                new Text(Output.YesNo(container.Unprivileged)), new Text(container.Lock ?? ""),
                new Text(container.Attachment is { } a ? $"{Output.Name(a.Mode)} {string.Join(",", a.Gpus)}" : "—"),
                new Markup(drift is null ? "" : $"[{(drift == DriftStatus.InSync ? "green" : "yellow")}]{Output.Name(drift)}[/]"));
        }

        context.Out.Write(table);
        return ExitCodes.Ok;
    }
}
