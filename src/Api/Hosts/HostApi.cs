using GpuLxc.Api.Drivers;
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
            .WithValidation<HostDriverInstallRequest>().Problems(JobProblems.Conflict);
        host.MapPost("/driver/resync", ResyncDriversAsync).WithName("ResyncDrivers")
            .WithValidation<DriverResyncRequest>().Problems(DriverProblems.HostDriverNotLoaded, JobProblems.Conflict);
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
                         $"{DriverServices.JobAccepted} {DriverServices.JobSerialised}")]
    public static async Task<Accepted<Job>> InstallHostDriverAsync(HostDriverInstallRequest request, [AsParameters] DriverServices drivers, CancellationToken cancellationToken) =>
        await drivers.StartAsync<HostDriverInstallWork, HostDriverInstallRequest>(JobService.HostTarget, request, 15, cancellationToken);

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

    public static IServiceCollection AddHostInfo(this IServiceCollection services) =>
        services.AddSingleton<HostInfoReader>();
}
