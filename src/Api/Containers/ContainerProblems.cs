using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Containers;

/// <summary>The problems of finding a container and asking its manager: thrown by the services, declared by the routes.</summary>
public static class ContainerProblems
{
    /// <summary>Neither Proxmox VE nor LXC was found and <c>GpuLxc:Host:Backend</c> names none.</summary>
    public static readonly ApiProblem NoBackend = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:no-container-backend", "No container backend on this host.");

    /// <summary>Not an id of the host's backend; <c>errors.containerId</c> says what one is.</summary>
    public static readonly ApiProblem InvalidId = new(StatusCodes.Status400BadRequest, "urn:gpulxc:problem:invalid-container-id", "Invalid container id.");

    /// <summary>No config file for the id.</summary>
    public static readonly ApiProblem NotFound = new(StatusCodes.Status404NotFound, "urn:gpulxc:problem:no-such-container", "No such container.");

    /// <summary>The config has a <c>lock:</c> property: Proxmox is running a backup, snapshot, migration… on it.</summary>
    public static readonly ApiProblem Locked = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:container-locked", "The container is locked.");

    /// <summary><c>pct</c> or the <c>lxc-*</c> tools failed to do what was asked (a restart).</summary>
    public static readonly ApiProblem ManagerFailed = new(StatusCodes.Status502BadGateway, "urn:gpulxc:problem:container-manager-failed", "The container manager failed.");

    public static ProblemException NoBackendFound() => NoBackend.With(
        "Neither /etc/pve/lxc (Proxmox VE) nor the LXC tools were found, and GpuLxc:Host:Backend does not name one.",
        "Install Proxmox VE or LXC, or set GpuLxc:Host:Backend.");

    public static ProblemException InvalidContainerId(string containerId, string rule) =>
        new(InvalidId, $"'{containerId}' is not {rule}.") { Errors = { ["containerId"] = [$"containerId must be {rule}."] } };

    public static ProblemException NoSuchContainer(string containerId, string configPath) =>
        NotFound.With($"There is no container '{containerId}' ({configPath} does not exist).", "GET /api/v1/containers lists them.");
}
