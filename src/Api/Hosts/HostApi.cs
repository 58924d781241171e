using GpuLxc.Api.Drivers;
using GpuLxc.Api.Guardian;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;
using GpuLxc.Api.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GpuLxc.Api.Hosts;

/// <summary><c>/host</c>: the host's facts, its NVIDIA driver, and the jobs that install it and bring the containers to its version.</summary>
public static class HostApi
{
    public static RouteGroupBuilder MapHost(this RouteGroupBuilder api)
    {
        var host = api.MapGroup("/host").WithTags("Host");
        host.MapGet("/", GetHostAsync).WithName("GetHost");
        host.MapGet("/driver", GetHostDriverAsync).WithName("GetHostDriver");
        host.MapPost("/driver/install", InstallHostDriverAsync).WithName("InstallHostDriver")
            .WithValidation<HostDriverInstallRequest>().Problems(GuardianProblems.DriverUnsupportedGpu, GuardianProblems.KernelDriverIncompatible, JobProblems.Conflict);
        host.MapPost("/driver/resync", ResyncDriversAsync).WithName("ResyncDrivers")
            .WithValidation<DriverResyncRequest>().Problems(DriverProblems.HostDriverNotLoaded, JobProblems.Conflict);
        host.MapPost("/driver/build", BuildKernelModuleAsync).WithName("BuildKernelModule")
            .WithValidation<KernelModuleBuildRequest>().Problems(JobProblems.Conflict);
        host.MapGet("/guardian", GetGuardian).WithName("GetGuardian");
        return api;
    }

    [EndpointSummary("The host's facts")]
    [EndpointDescription("Hostname, kernel, distribution, cgroup version, container backend and Proxmox version, read from the host at request time.")]
    public static async Task<Ok<HostInfo>> GetHostAsync(HostInfoReader reader, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reader.ReadAsync(cancellationToken));

    [EndpointSummary("The host's NVIDIA driver")]
    [EndpointDescription("Loaded vs installed version, flavor, modules, modules-load.d, udev rules, device nodes with their " +
                         "real majors, DKMS, headers, Secure Boot, and whether a reboot is required.")]
    public static async Task<Ok<HostDriver>> GetHostDriverAsync(HostDriverReader reader, CancellationToken cancellationToken) =>
        TypedResults.Ok(await reader.ReadAsync(cancellationToken));

    [EndpointSummary("Install the NVIDIA driver on the host (a job)")]
    [EndpointDescription("Steps: preflight (GPUs not on vfio-pci, Secure Boot vs unsigned modules, nouveau, headers available), headers " +
                         "(proxmox-headers on Proxmox VE ≥ 8, pve-headers before, linux-headers elsewhere), the driver (the package nvidia-detect " +
                         "recommends, or `package`, pinned to `version` when given; or NVIDIA's `.run` installer with --dkms --silent), " +
                         "modules-load.d, update-initramfs -u -k all, a udev rule and a boot unit that create the device nodes before " +
                         "containers start, and verification. `result.rebootRequired` says when the new module loads only after a reboot. " +
                         "Before the job starts, the compatibility rules refuse with 409 a branch past the last one of a GPU's generation " +
                         "(Fermi 390, Kepler 470, Maxwell/Pascal/Volta 580), an open-module package for a pre-Turing GPU, and a version known " +
                         $"not to build for the running kernel, naming the right branch or version and the rule's source. {DriverServices.JobAccepted} {DriverServices.JobSerialised}")]
    public static async Task<Accepted<Job>> InstallHostDriverAsync(
        HostDriverInstallRequest request, InstallCompatibility compatibility, [AsParameters] DriverServices drivers, CancellationToken cancellationToken)
    {
        await compatibility.RefuseIncompatibleAsync(request, cancellationToken);
        return await drivers.StartAsync<HostDriverInstallWork, HostDriverInstallRequest>(JobService.HostTarget, request, 15, cancellationToken);
    }

    [EndpointSummary("Bring every attached container's userspace driver to the host's version (a job)")]
    [EndpointDescription("Compares every attached, running container with the host's loaded module and reinstalls the mismatched ones, " +
                         $"one step each (stopped containers are skipped). 409 when no host driver is loaded. {DriverServices.JobAccepted} {DriverServices.JobSerialised}")]
    public static async Task<Accepted<Job>> ResyncDriversAsync(DriverResyncRequest request, [AsParameters] DriverServices drivers, CancellationToken cancellationToken)
    {
        if (await drivers.Guests.HostVersionAsync(cancellationToken) is null)
        {
            throw DriverProblems.HostDriverNotLoaded.With("No NVIDIA kernel module is loaded on the host, so there is no version for the containers to match.",
                "POST /api/v1/host/driver/install, then reboot the host.");
        }

        return await drivers.StartAsync<DriverResyncWork, DriverResyncRequest>(JobService.HostTarget, request, 10, cancellationToken);
    }

    [EndpointSummary("Build the NVIDIA module for a staged kernel (a job)")]
    [EndpointDescription("For an installed kernel newer than the running one (`GET /api/v1/host/guardian` lists them with `moduleBuilt`): installs its " +
                         "headers, runs `dkms autoinstall -k KERNEL` and checks that kmod finds the module for it, so that the GPU is there after " +
                         $"the reboot. Needs a DKMS install of the driver. {DriverServices.JobAccepted} {DriverServices.JobSerialised}")]
    public static async Task<Accepted<Job>> BuildKernelModuleAsync(KernelModuleBuildRequest request, [AsParameters] DriverServices drivers, CancellationToken cancellationToken) =>
        await drivers.StartAsync<KernelModuleBuildWork, KernelModuleBuildRequest>(JobService.HostTarget, request, 30, cancellationToken);

    [EndpointSummary("The upgrade guardian's view")]
    [EndpointDescription("What the guardian last saw of the host (loaded and installed module, running kernel, staged kernels and whether their " +
                         "module is built, NVIDIA majors), the last module change, its policy (GpuLxc:Guardian:Policy: auto, notify, off) and its " +
                         "latest actions (re-syncs and module builds it started, containers it re-attached).")]
    public static Ok<GuardianStatus> GetGuardian(UpgradeGuardian guardian) => TypedResults.Ok(guardian.Status());

    public static IServiceCollection AddHostInfo(this IServiceCollection services) =>
        services.AddSingleton<HostInfoReader>();
}
