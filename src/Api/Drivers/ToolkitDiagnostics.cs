using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Diagnostics;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// The diagnostics check <c>container-toolkit-cgroups</c>: across the running containers GpuLxc attached, whether an
/// installed NVIDIA Container Toolkit leaves <c>no-cgroups</c> false on its legacy path (Docker's GPU containers then
/// fail inside LXC). Bounded: each command <see cref="CommandTimeout"/>, all of them <see cref="Budget"/>; what the
/// budget left unread is named in the detail.
/// </summary>
public sealed class ToolkitDiagnostics(AttachmentStore attachments, ContainerDirectory containers, IHostCommandRunner commands)
{
    public const string Id = "container-toolkit-cgroups";
    public const string Title = "Docker's GPU containers can start inside every running GPU container (the toolkit's no-cgroups)";

    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5), Budget = TimeSpan.FromSeconds(20);

    public async Task<DiagnosticCheck> CheckAsync(CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(Budget);
        var read = new List<(string Id, ContainerToolkit Toolkit)>();
        var unread = new List<string>();
        foreach (var record in await attachments.ListAsync(cancellationToken))
        {
            try
            {
                var container = await containers.GetContainerAsync(record.ContainerId, budget.Token);
                if (container.Status != ContainerStatus.Running)
                {
                    continue;
                }

                var backend = containers.BackendFor(record.ContainerId);
                read.Add((record.ContainerId, await ToolkitReader.ReadAsync(backend, record.ContainerId, null, container.Unprivileged,
                    command => commands.RunAsync(command with { Timeout = CommandTimeout }, budget.Token))));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                unread.Add(record.ContainerId);
            }
            catch (ProblemException)
            {
                // An attachment whose container is gone: the attachment checks report it; there is nothing to exec into.
            }
        }

        var left = unread.Count == 0 ? "" : $" Not checked within {Budget.TotalSeconds:0} s: {string.Join(", ", unread)}.";
        var failing = read.Where(r => r.Toolkit.Findings.Any(f => f.Code == "cgroupsInLxc")).ToList();
        if (read.Count == 0)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Skip, $"No running container has a GPU attached by GpuLxc.{left}", null);
        }

        var detail = string.Join("; ", read.Select(r => r.Toolkit switch
        {
            { NotChecked: { } why } => $"{r.Id}: not checked ({why})",
            { Installed: not true } => $"{r.Id}: no toolkit",
            var t => $"{r.Id}: toolkit {t.Version}, {t.RuntimeMode} mode, no-cgroups {(t.NoCgroups == true ? "true" : "false")}",
        })) + "." + left;
        return failing.Count == 0
            ? new DiagnosticCheck(Id, Title, unread.Count == 0 ? CheckStatus.Pass : CheckStatus.Warn, detail, null)
            : new DiagnosticCheck(Id, Title, CheckStatus.Fail,
                string.Join(" ", failing.Select(r => $"Container {r.Id}: {r.Toolkit.Findings.First(f => f.Code == "cgroupsInLxc").Message}")) + left,
                string.Join(" ", failing.Select(r => $"Inside container {r.Id}: {r.Toolkit.Findings.First(f => f.Code == "cgroupsInLxc").Fix}.")));
    }
}
