using GpuLxc.Api.Attachments;
using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>A verification takes no settings: what it checks is the job's target container.</summary>
public sealed record GuestVerifyRequest;

/// <summary>
/// Checks from inside a container that the GPU is usable: device nodes, nvidia-smi at the host's version, and the
/// NVIDIA Container Toolkit where one is installed (<see cref="ToolkitVerification"/>).
/// </summary>
internal sealed class GuestVerifyWork(GuestDrivers guests, GuestInstaller installer, AttachmentStore attachments, ContainerDirectory containers, IHostCommandRunner commands)
    : JobWork<GuestVerifyRequest>
{
    public override JobKind Kind => JobKind.GuestVerify;

    public override IReadOnlyList<(string Name, string Title)> PlanSteps(GuestVerifyRequest request) =>
    [
        ("preflight", "Check that the container runs, has a GPU attached, and that the host driver is loaded"),
        ("deviceNodes", "Check that the attached device nodes are character devices inside the container"),
        ("nvidiaSmi", "Check that nvidia-smi inside works and reports the host's version"),
        (ToolkitVerification.Step, ToolkitVerification.Title),
    ];

    public override async Task<JobResult?> RunAsync(GuestVerifyRequest request, JobContext context)
    {
        var (backend, hostVersion) = await context.StepAsync("preflight", async step =>
        {
            var checkedTarget = await guests.PreflightAsync(context.Target, context.Cancellation);
            step.Message = $"running, GPU attached, host module {checkedTarget.HostVersion}";
            return checkedTarget;
        });
        var target = new GuestTarget(backend, context.Target, hostVersion, OsFamily.Other, new Hosts.OsInfo(null, null, null, null));
        await context.StepAsync("deviceNodes", async step =>
        {
            var record = await attachments.FindAsync(context.Target, context.Cancellation);
            var paths = record?.Nodes.Select(n => n.Path).ToList() ?? [];
            var listing = backend.Exec(context.Target, ["ls", "-l", .. paths]) with { Timeout = GuestDrivers.ExecTimeout };
            var result = await context.RunAsync(commands, listing);
            var present = result.StandardOutput.Split('\n').Where(line => line.StartsWith('c')).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]).ToHashSet();
            var missing = paths.Where(p => !present.Contains(p)).ToList();
            if (missing.Count > 0)
            {
                // A listing that fails because exec itself fails says nothing about the nodes: report the exec's own error.
                await installer.ThrowIfExecFailsAsync(context, target);
                throw new JobFailedException(JobContext.CommandFailed(listing, result,
                    $"Restart the container (its attachment takes effect at start), or PUT /api/v1/containers/{context.Target}/gpu?restart=true.",
                    $"Missing in container {context.Target}: {string.Join(", ", missing)}."));
            }

            step.Message = $"{paths.Count} device nodes present";
        });
        var hostUserspace = await guests.UsesHostUserspaceAsync(context.Target, context.Cancellation);
        var version = await context.StepAsync("nvidiaSmi", async step =>
        {
            string reported;
            try
            {
                reported = await installer.VerifyAsync(context, target);
            }
            catch (JobFailedException e) when (hostUserspace)
            {
                // The container's files are the host's mounts: a mismatch means they are an old set or did not mount.
                e.Error = e.Error with
                {
                    Fix = $"The container binds the host's driver files (userspace host): GET /api/v1/containers/{context.Target}/gpu shows the drift; " +
                          $"PUT /api/v1/containers/{context.Target}/gpu?restart=true rebinds the loaded version's files.",
                };
                throw;
            }

            step.Message = $"nvidia-smi reports {reported}, the host's version" + (hostUserspace ? " (the host's own files, bound in)" : "");
            return reported;
        });
        await context.StepAsync(ToolkitVerification.Step, async step =>
        {
            var unprivileged = (await containers.GetContainerAsync(context.Target, context.Cancellation)).Unprivileged;
            await ToolkitVerification.RunAsync(context, step, commands, backend, hostVersion, unprivileged);
        });
        return new JobResult(hostVersion, version, Method: hostUserspace ? GuestDrivers.HostMethod : null, Match: true);
    }
}
