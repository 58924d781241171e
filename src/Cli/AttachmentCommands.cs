using System.CommandLine;
using GpuLxc.Client;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary><c>attach</c> and <c>detach</c>: a container's GPU lines, planned (<c>--dry-run</c>: the diff) or written.</summary>
public static class AttachmentCommands
{
    public static IEnumerable<Command> Create(CliHost host)
    {
        var container = new Argument<string>("container") { Description = "The container: a Proxmox vmid or an LXC name" };
        var gpus = new Option<string[]>("--gpu") { Description = "A GPU to attach (UUID, PCI address or index); repeat for more; default every GPU", AllowMultipleArgumentsPerToken = false };
        var drm = new Option<string[]>("--drm") { Description = "A GPU whose DRM card and render nodes to pass, by PCI address (an iGPU) or NVIDIA id; repeat for more; default none", AllowMultipleArgumentsPerToken = false };
        var mode = CliOptions.Choice<AttachmentMode>("--mode", "an attachment mode", "auto (default; dev where Proxmox has it), raw (lxc.cgroup2 + mount entries) or dev (Proxmox devN)");
        var userspace = CliOptions.Choice<UserspaceSource>("--userspace", "a userspace source", "installed (default: the container has its own driver) or host (bind the host's files)");
        var capabilities = CliOptions.Choices<DriverCapability>("--capability", "a driver capability", "With --userspace host, what to bind");
        var group = new Option<string?>("--group") { Description = "A group of the container's own /etc/group (video, render) whose members are to open the nodes" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the plan and the diff; write nothing" };
        var restart = new Option<bool>("--restart") { Description = "Restart the container if it runs, so that the change takes effect" };
        var ifMatch = new Option<string?>("--if-match") { Description = "Write only if the config's ETag is still this one (else exit 3)" };

        var attach = new Command("attach", "Attach GPUs to a container: writes its device lines under Proxmox's lock, with a backup")
        {
            container, gpus, drm, mode, userspace, capabilities, group, dryRun, restart, ifMatch,
        };
        attach.Handle(host, async context =>
        {
            var request = new AttachRequest
            {
                Gpus = context.Get(gpus) is { Length: > 0 } chosen ? chosen : null,
                Drm = context.Get(drm) is { Length: > 0 } render ? render : null,
                Mode = context.Get(mode) ?? AttachmentMode.Auto,
                Userspace = context.Get(userspace) ?? UserspaceSource.Installed,
                Capabilities = context.Get(capabilities) is { Length: > 0 } caps ? caps : null,
                Group = context.Get(group),
            };
            var answer = await context.Client.AttachGpuAsync(context.Get(container), request,
                context.Get(dryRun) ? true : null, context.Get(restart) ? true : null, context.Get(ifMatch), context.CancellationToken);
            return Show(context, answer);
        });
        yield return attach;

        var detachContainer = new Argument<string>("container") { Description = "The container: a Proxmox vmid or an LXC name" };
        var detach = new Command("detach", "Remove exactly the lines GpuLxc added to a container's config")
        {
            detachContainer, dryRun, restart, ifMatch,
        };
        detach.Handle(host, async context => Show(context, await context.Client.DetachGpuAsync(context.Get(detachContainer),
            context.Get(dryRun) ? true : null, context.Get(restart) ? true : null, context.Get(ifMatch), context.CancellationToken)));
        yield return detach;
    }

    private static int Show(CommandContext context, GpuLxcResponse<AttachmentChange> answer)
    {
        var change = answer.Result;
        if (context.Json)
        {
            context.WriteJson(change);
            return ExitCodes.Ok;
        }

        foreach (var line in (change.Diff ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colour = line switch
            {
                _ when line.StartsWith("+++", StringComparison.Ordinal) || line.StartsWith("---", StringComparison.Ordinal) => "bold",
                _ when line.StartsWith('+') => "green",
                _ when line.StartsWith('-') => "red",
                _ when line.StartsWith("@@", StringComparison.Ordinal) => "cyan",
                _ => "default",
            };
            context.Out.MarkupLineInterpolated($"[{colour}]{line}[/]");
        }

        foreach (var warning in change.Warnings)
        {
            context.Out.MarkupLineInterpolated($"[yellow]warning:[/] {warning.Message}");
        }

        var what = change.DryRun ? "plan only, nothing written" : change.Changed ? "written" : "no change";
        var restartNote = change.Restarted ? ", container restarted" : change.RestartRequired ? ", restart the container for it to take effect (--restart)" : "";
        context.Out.MarkupLineInterpolated($"[bold]{change.Attachment?.ContainerId ?? ""}[/]: {what}{restartNote}. ETag {answer.ETag ?? "—"}");
        return ExitCodes.Ok;
    }
}
