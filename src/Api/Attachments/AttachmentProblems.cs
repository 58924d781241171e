using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Attachments;

/// <summary>The problems of reading and editing a container's GPU attachment: thrown by the services, declared by the routes.</summary>
public static class AttachmentProblems
{
    /// <summary>GpuLxc has no record of attaching a GPU to the container.</summary>
    public static readonly ApiProblem NotAttached = new(StatusCodes.Status404NotFound, "urn:gpulxc:problem:not-attached", "No GPU attachment.");

    /// <summary>Another edit held the config's flock for longer than <see cref="AttachmentService.LockTimeout"/>.</summary>
    public static readonly ApiProblem ConfigLocked = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:config-lock-timeout", "The container's config is locked.");

    /// <summary><c>If-Match</c> names another version of the config than the one on disk.</summary>
    public static readonly ApiProblem ConfigChanged = new(StatusCodes.Status412PreconditionFailed, "urn:gpulxc:problem:config-changed", "The config changed.");

    /// <summary>The host cannot give the container what was asked (no such GPU, required device nodes missing).</summary>
    public static readonly ApiProblem CannotAttach = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:cannot-attach",
        "The GPU cannot be attached on this host as it is.");

    /// <summary>An unprivileged container could not open the device nodes bound into it (its idmap leaves their group unmapped, or maps it to another group than the one asked for).</summary>
    public static readonly ApiProblem NodesUnusableInside = new(StatusCodes.Status409Conflict, "urn:gpulxc:problem:nodes-unusable-inside",
        "The container could not open the GPU's device nodes.");

    public static ProblemException NotAttachedTo(string containerId) => NotAttached.With(
        $"GpuLxc has not attached a GPU to container '{containerId}'.", $"PUT /api/v1/containers/{containerId}/gpu attaches one.");
}
