using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// Compares every attached container with the host and reinstalls the mismatched ones, one step each. A container
/// that fails does not stop the others; the job fails at the end, naming them. A reinstalled container that has
/// <see cref="DockerProfile.CdiSpecPath"/> (the docker profile's) gets it regenerated for the new driver.
/// </summary>
internal sealed class DriverResyncWork(
    ContainerBackends backends,
    AttachmentStore attachments,
    GuestDrivers guests,
    GuestInstaller installer,
    DockerProfileSetup docker,
    LoadedDriver loadedDriver,
    JobStore jobs,
    IHostCommandRunner commands) : JobWork<DriverResyncRequest>
{
    public override JobKind Kind => JobKind.DriverResync;

    public override IReadOnlyList<(string Name, string Title)> PlanSteps(DriverResyncRequest request) =>
        [("compare", "Compare every attached container's userspace driver with the host's version")];

    public override async Task<JobResult?> RunAsync(DriverResyncRequest request, JobContext context)
    {
        var outcomes = new Dictionary<string, ResyncedContainer>(StringComparer.Ordinal);
        var hostVersion = await context.StepAsync("compare", async step =>
        {
            var version = await loadedDriver.ReadVersionAsync(context.Cancellation) ?? throw new JobFailedException(new JobError("preconditionFailed",
                "No NVIDIA kernel module is loaded on the host, so there is no version for the containers to match.",
                Fix: "POST /api/v1/host/driver/install, then reboot the host."));
            var backend = backends.Current ?? throw new JobFailedException(new JobError("preconditionFailed", "No container backend on this host."));
            foreach (var record in (await attachments.ListAsync(context.Cancellation)).Where(r => r.Backend == backend.Kind.ToString()))
            {
                var id = record.ContainerId;
                if (await backend.StatusAsync(id, context.Cancellation) != ContainerStatus.Running)
                {
                    outcomes[id] = new ResyncedContainer(id, null, null, "skipped");
                    await context.LogAsync($"container {id}: not running, skipped (re-sync it once it runs)");
                    continue;
                }

                if (await guests.UsesHostUserspaceAsync(id, context.Cancellation))
                {
                    // Its files are the host's, bound in: a reinstall cannot apply; the attachment's drift says whether it needs a re-PUT.
                    outcomes[id] = new ResyncedContainer(id, null, null, "skipped");
                    await context.LogAsync($"container {id}: userspace host, nothing to install (after an upgrade: PUT /api/v1/containers/{id}/gpu?restart=true)");
                    continue;
                }

                var before = (await NvmlLibraries.ReadAsync(backend, id, command => context.RunAsync(commands, command))).Installed;
                if (before == version)
                {
                    outcomes[id] = new ResyncedContainer(id, before, before, "inSync");
                    continue;
                }

                outcomes[id] = new ResyncedContainer(id, before, null, "pending");
                await context.AddStepAsync($"container:{id}", $"Reinstall container {id}'s userspace driver ({before ?? "none"} → {version})");
            }

            var pending = outcomes.Values.Count(o => o.Outcome == "pending");
            step.Message = $"{outcomes.Count} attached, {pending} to reinstall, host module {version}";
            return version;
        });

        foreach (var id in outcomes.Values.Where(o => o.Outcome == "pending").Select(o => o.ContainerId).ToList())
        {
            try
            {
                var after = await context.StepAsync($"container:{id}", async step =>
                {
                    var (backend, version) = await guests.PreflightAsync(id, context.Cancellation);
                    var target = await guests.DetectOsAsync(backend, id, version, context.Cancellation);
                    var method = await MethodAsync(request.Method, target, context.Cancellation);
                    if (method == GuestInstallMethod.Apt)
                    {
                        await installer.HoldAsync(context, target, (await installer.InstallAptAsync(context, target)).Pins);
                    }
                    else
                    {
                        var path = await installer.InstallerAsync(request.RunInstaller, version, context.Cancellation);
                        await installer.InstallRunAsync(context, target, path);
                    }

                    var reported = await installer.VerifyAsync(context, target);
                    // A CDI spec names the driver's versioned library files: the old one would point Docker at files that are gone.
                    var cdi = await docker.GenerateCdiAsync(context, target, onlyWhenPresent: true);
                    step.Message = $"{GuestInstaller.MethodName(method)}: now {reported}{(cdi ? $"; {DockerProfile.CdiSpecPath} regenerated" : "")}";
                    return reported;
                });
                outcomes[id] = outcomes[id] with { After = after, Outcome = "reinstalled" };
            }
            catch (JobFailedException)
            {
                outcomes[id] = outcomes[id] with { Outcome = "failed" };
            }
        }

        var result = new JobResult(hostVersion, Containers: [.. outcomes.Values.OrderBy(o => o.ContainerId, StringComparer.Ordinal)]);
        var failed = outcomes.Values.Where(o => o.Outcome == "failed").Select(o => o.ContainerId).ToList();
        if (failed.Count > 0)
        {
            throw new JobFailedException(new JobError("commandFailed",
                $"Re-installing failed in container(s) {string.Join(", ", failed)}; the others are in sync.",
                Fix: "Each failed step's message and the log say why; POST /api/v1/containers/{containerId}/driver/install retries one."))
            {
                Result = result,
            };
        }

        return result;
    }

    /// <summary><c>auto</c>: how GpuLxc last installed this container, else what its distribution supports.</summary>
    private async Task<GuestInstallMethod> MethodAsync(GuestInstallMethod requested, GuestTarget target, CancellationToken cancellationToken)
    {
        if (requested != GuestInstallMethod.Auto)
        {
            return requested;
        }

        var last = await jobs.LastSucceededAsync(JobKind.GuestDriverInstall, target.ContainerId, cancellationToken);
        return EnumNames.Parse<GuestInstallMethod>(last?.Result?.Method) ?? GuestInstaller.Resolve(GuestInstallMethod.Auto, target.Family);
    }
}
