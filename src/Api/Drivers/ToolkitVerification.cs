using System.Text.RegularExpressions;
using GpuLxc.Api.Containers;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Jobs;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// Verify's <c>toolkit</c> step: the toolkit audit's errors fail it and its warnings are in its message; where Docker
/// and the toolkit are installed and an image is already local, a throwaway container (<c>docker run --rm --pull
/// never</c>) must list the GPU with <c>nvidia-smi -L</c>. GpuLxc never pulls an image.
/// </summary>
internal static partial class ToolkitVerification
{
    public const string Step = "toolkit";
    public const string Title = "Audit the NVIDIA Container Toolkit inside and, where Docker has a local image, run a GPU container that lists the GPU";

    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    public static async Task RunAsync(JobContext context, JobStepScope step, IHostCommandRunner commands, IContainerBackend backend, string hostVersion, bool unprivileged)
    {
        var id = context.Target;
        var toolkit = await ToolkitReader.ReadAsync(backend, id, hostVersion, unprivileged, command => context.RunAsync(commands, command));
        if (toolkit.NotChecked is { } why)
        {
            throw new JobFailedException(new JobError("verificationFailed", $"The toolkit in container {id} could not be read: {why}."));
        }

        if (toolkit.Installed != true)
        {
            step.Skip($"The NVIDIA Container Toolkit is not installed in container {id} (no dpkg package, no nvidia-ctk): no GPU container to run.");
            return;
        }

        var errors = toolkit.Findings.Where(f => f.Severity == ToolkitFindingSeverity.Error).ToList();
        if (errors.Count > 0)
        {
            throw new JobFailedException(new JobError("verificationFailed",
                $"The NVIDIA Container Toolkit in container {id}: {string.Join(" ", errors.Select(f => f.Message))} No GPU container was run.",
                Fix: string.Join("; ", errors.Select(f => f.Fix))));
        }

        var warnings = string.Concat(toolkit.Findings.Select(f => $" Warning: {f.Message} Fix: {f.Fix}"));
        var audited = $"Toolkit {toolkit.Version}, {toolkit.RuntimeMode} mode, no-cgroups {(toolkit.NoCgroups == true ? "true" : "false")}";
        if (toolkit.DockerVersion is null)
        {
            step.Message = $"{audited}; Docker is not installed (no dockerd), so no container was run.{warnings}";
            return;
        }

        var listing = ToolkitReader.Exec(backend, id, ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
        var images = await context.RunAsync(commands, listing);
        if (!images.Succeeded)
        {
            step.Message = $"{audited}, Docker {toolkit.DockerVersion}; '{listing}' exited with {images.ExitCode} ({Said(images)}): " +
                           $"the Docker daemon does not answer, so no container was run.{warnings}";
            return;
        }

        if (PickImage(images.StandardOutput) is not { } image)
        {
            step.Message = $"{audited}, Docker {toolkit.DockerVersion}; Docker has no local image and verify never pulls one, so no container was run " +
                           $"(`docker pull ubuntu:24.04` inside, then verify again).{warnings}";
            return;
        }

        // Docker's own CDI support is the path the toolkit recommends; --gpus goes through the legacy hook.
        string[] gpus = toolkit is { DockerCdi: true, CdiSpec.Stale: not true } ? ["--device", "nvidia.com/gpu=all"] : ["--gpus", "all"];
        var run = backend.Exec(id, ["docker", "run", "--rm", "--pull", "never", .. gpus, image, "nvidia-smi", "-L"]) with { Timeout = RunTimeout };
        var result = await context.RunAsync(commands, run);
        var listed = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("GPU ", StringComparison.Ordinal)).ToList();
        if (!result.Succeeded || listed.Count == 0)
        {
            var bpf = (result.StandardError + result.StandardOutput).Contains("bpf_prog_query", StringComparison.Ordinal);
            throw new JobFailedException(JobContext.CommandFailed(run, result,
                bpf ? "nvidia-ctk config --set nvidia-container-cli.no-cgroups=true --in-place, then systemctl restart docker"
                    : "Inside the container: `nvidia-ctk cdi list` and `docker info` show what Docker can inject; fix what the error names, then verify again.",
                $"A GPU container in container {id} failed: '{run}' exited with {result.ExitCode}{(listed.Count == 0 && result.Succeeded ? " listing no GPU" : "")}: {Said(result)}") with
            {
                Code = result.Succeeded ? "verificationFailed" : "commandFailed",
            });
        }

        step.Message = $"{audited}, Docker {toolkit.DockerVersion}: '{run}' listed {string.Join("; ", listed)}.{warnings}";
    }

    /// <summary>
    /// A local image to run (<c>repository:tag</c> from <c>docker image ls</c>): a CUDA or NVIDIA image first, then
    /// Ubuntu or Debian (nvidia-smi needs glibc), then any; untagged images and names that are not image references are never used.
    /// </summary>
    public static string? PickImage(string listing)
    {
        var images = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(i => !i.Contains("<none>", StringComparison.Ordinal) && ImageReference().IsMatch(i)).ToList();
        return images.FirstOrDefault(i => i.Contains("cuda", StringComparison.Ordinal) || i.Contains("nvidia", StringComparison.Ordinal))
               ?? images.FirstOrDefault(i => i.StartsWith("ubuntu:", StringComparison.Ordinal) || i.StartsWith("debian:", StringComparison.Ordinal))
               ?? images.FirstOrDefault();
    }

    private static string Said(HostCommandResult result) =>
        string.Join(" ", (result.StandardError + "\n" + result.StandardOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) is { Length: > 0 } said ? said : "no output";

    [GeneratedRegex(@"\A[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?\z")]
    private static partial Regex ImageReference();
}
