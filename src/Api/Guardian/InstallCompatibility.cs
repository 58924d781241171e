using GpuLxc.Api.Drivers;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Guardian;

/// <summary>The compatibility rules a host install is held to before its job starts.</summary>
public sealed class InstallCompatibility(GpuInventory inventory, IHostFileSystem files)
{
    /// <summary>
    /// Refuses a request the rules say cannot work on this host: its branch (from <c>version</c>, the installer's
    /// file name or the package name) is past the last branch of a GPU's generation, an open-module package for a
    /// pre-Turing GPU, or a version known not to build for the running kernel. A request that names no branch (the
    /// package <c>nvidia-detect</c> picks for the GPU) passes.
    /// </summary>
    /// <exception cref="Infrastructure.ProblemException"><see cref="GuardianProblems.DriverUnsupportedGpu"/> or <see cref="GuardianProblems.KernelDriverIncompatible"/> (409), naming the right branch or version and the rule's source.</exception>
    public async Task RefuseIncompatibleAsync(HostDriverInstallRequest request, CancellationToken cancellationToken)
    {
        var version = request.Version ?? (request.RunInstaller is { } path ? DriverInputs.VersionOfInstaller(path) : null);
        var branch = DriverCompatibility.Branch(version) ?? DriverCompatibility.PackageBranch(request.Package);
        var gpus = await inventory.TopologyGpusAsync(refresh: true, cancellationToken);
        var gpuFindings = DriverCompatibility.CheckGpus(gpus, branch, DriverCompatibility.IsOpenPackage(request.Package));
        if (gpuFindings.Count > 0)
        {
            throw GuardianProblems.DriverUnsupportedGpu.With(Describe(gpuFindings), gpuFindings[0].Fix);
        }

        var kernel = (await files.TryReadTextAsync("/proc/sys/kernel/osrelease", cancellationToken))?.Trim();
        var kernelFindings = DriverCompatibility.CheckKernel(kernel, version);
        if (kernelFindings.Count > 0)
        {
            throw GuardianProblems.KernelDriverIncompatible.With(Describe(kernelFindings), kernelFindings[0].Fix);
        }
    }

    private static string Describe(IReadOnlyList<CompatibilityFinding> findings) =>
        string.Join(" ", findings.Select(f => $"{f.Message} (source: {f.Source})"));
}
