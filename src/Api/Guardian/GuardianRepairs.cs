using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Drivers;
using GpuLxc.Api.Events;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Guardian;

/// <summary>
/// What the guardian does to the containers and jobs: the same services the routes use (the re-sync job of
/// <c>POST /api/v1/host/driver/resync</c>, the module build of <c>POST /api/v1/host/driver/build</c>, the
/// attachment PUT), started in the name <see cref="Caller"/>.
/// </summary>
public sealed class GuardianRepairs(
    JobService jobs,
    JobStore jobStore,
    AttachmentStore attachments,
    AttachmentService attachmentService,
    ContainerBackends backends,
    GuestDrivers guests,
    IEventPublisher events,
    TimeProvider time)
{
    /// <summary>The <c>requestedBy</c> of the guardian's jobs and the key name of its attachment edits.</summary>
    public const string Caller = "guardian";

    /// <summary>Running containers with their own userspace driver whose version is not <paramref name="hostVersion"/>; each is published as <see cref="EventTypes.UserspaceMismatch"/>.</summary>
    public async Task<IReadOnlyList<string>> MismatchedContainersAsync(string hostVersion, CancellationToken cancellationToken)
    {
        var mismatched = new List<string>();
        foreach (var record in await InstalledUserspaceAsync(cancellationToken))
        {
            try
            {
                var driver = await guests.ReadAsync(record.ContainerId, cancellationToken);
                if (driver.Status == ContainerStatus.Running && driver.InstalledVersion != hostVersion)
                {
                    mismatched.Add(record.ContainerId);
                    events.Publish(EventTypes.UserspaceMismatch, new { containerId = record.ContainerId, installed = driver.InstalledVersion, host = hostVersion });
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The container went away since it was attached, or cannot be entered: its driver is unknown, not
                // mismatched, and the check must go on to remember the change (else it would be reported again).
            }
        }

        return mismatched;
    }

    /// <summary>Starts the re-sync job; <c>jobRefused</c> when a conflicting job runs (the guardian retries at its next check).</summary>
    public async Task<GuardianAction> StartResyncAsync(DriverChange? change, CancellationToken cancellationToken)
    {
        var versions = change is null ? "" : $" after the module changed {change.Previous} → {change.Current}";
        if ((await InstalledUserspaceAsync(cancellationToken)).Count == 0)
        {
            return Action("resyncSkipped", $"No attached container has its own userspace driver: nothing to re-sync{versions}.", null);
        }

        try
        {
            var job = await jobs.StartAsync<DriverResyncWork, DriverResyncRequest>(JobService.HostTarget, new DriverResyncRequest(), Caller, cancellationToken);
            events.Publish(EventTypes.ResyncStarted, new { jobId = job.Id, trigger = Caller });
            return Action("resyncStarted", $"Re-sync job started{versions}.", job.Id);
        }
        catch (JobConflictException e)
        {
            return Action("jobRefused", $"Re-sync not started{versions}: {e.Message} Retried at the next check.", e.Running.Id);
        }
    }

    /// <summary>Starts the module build for <paramref name="kernel"/> unless a build for it was started before (a failed build is the operator's to look at, not to repeat).</summary>
    public async Task<GuardianAction?> StartModuleBuildAsync(string kernel, CancellationToken cancellationToken)
    {
        var earlier = await jobStore.ListAsync(null, JobKind.KernelModuleBuild, null, 200, cancellationToken);
        if (earlier.Any(j => j.RequestAs<KernelModuleBuildRequest>().Kernel == kernel))
        {
            return null;
        }

        try
        {
            var job = await jobs.StartAsync<KernelModuleBuildWork, KernelModuleBuildRequest>(JobService.HostTarget, new KernelModuleBuildRequest(kernel), Caller, cancellationToken);
            return Action("moduleBuildStarted", $"No NVIDIA module for the staged kernel {kernel}: build job started.", job.Id);
        }
        catch (JobConflictException e)
        {
            return Action("jobRefused", $"Module build for {kernel} not started: {e.Message} Retried at the next check.", e.Running.Id);
        }
    }

    /// <summary>
    /// Re-attaches containers attached with <c>userspace: host</c> so that they bind the new version's files:
    /// stopped ones with <see cref="HostUserspaceRepair.Stopped"/> or <see cref="HostUserspaceRepair.Restart"/>, running
    /// ones (restarted) with <see cref="HostUserspaceRepair.Restart"/> only.
    /// </summary>
    public async Task<IReadOnlyList<GuardianAction>> ReattachHostUserspaceAsync(HostUserspaceRepair repair, CancellationToken cancellationToken)
    {
        if (repair == HostUserspaceRepair.Leave || backends.Current is not { } backend)
        {
            return [];
        }

        var done = new List<GuardianAction>();
        foreach (var record in (await attachments.ListAsync(cancellationToken)).Where(r => r.Backend == backend.Kind.ToString() && r.Request.Userspace == UserspaceSource.Host))
        {
            var running = await backend.StatusAsync(record.ContainerId, cancellationToken) == ContainerStatus.Running;
            if (running && repair != HostUserspaceRepair.Restart)
            {
                continue;
            }

            try
            {
                var (change, _) = await attachmentService.AttachAsync(record.ContainerId, record.Request, new AttachmentService.Edit(null, false, running, Caller), cancellationToken);
                done.Add(Action("reattached", $"Container {record.ContainerId} re-attached with the new driver's files{(running ? " and restarted" : "")} ({(change.Changed ? "lines changed" : "no line changed")}).", null));
            }
            catch (ProblemException e)
            {
                done.Add(Action("failed", $"Container {record.ContainerId} could not be re-attached: {e.Message}", null));
            }
        }

        return done;
    }

    private async Task<IReadOnlyList<AttachmentRecord>> InstalledUserspaceAsync(CancellationToken cancellationToken) =>
        backends.Current is { } backend
            ? (await attachments.ListAsync(cancellationToken)).Where(r => r.Backend == backend.Kind.ToString() && r.Request.Userspace != UserspaceSource.Host).ToList()
            : [];

    private GuardianAction Action(string action, string detail, string? jobId) => new(time.GetUtcNow(), action, detail, jobId);
}
