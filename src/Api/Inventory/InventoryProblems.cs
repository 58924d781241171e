using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Inventory;

/// <summary>The problems of the GPU routes.</summary>
public static class InventoryProblems
{
    /// <summary>No NVIDIA GPU has the UUID, PCI address or index asked for.</summary>
    public static readonly ApiProblem GpuNotFound = new(StatusCodes.Status404NotFound, "urn:gpulxc:problem:no-such-gpu", "No such GPU.");
}
