using System.Text.Json;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// A GPU is known by what does not change: its PCI address (or UUID). NVML documents that its enumeration order may
/// change between boots, so an index in a request is resolved once, at the attach, and the attachment — its record,
/// its drift and every fix — names the GPU by PCI address from then on.
/// </summary>
public static class GpuIdentity
{
    private static readonly JsonSerializerOptions Json = CreateJsonOptions();

    /// <summary>Whether <paramref name="id"/> is an NVML index (digits only) rather than a PCI address or UUID.</summary>
    public static bool IsIndex(string id) => id.Length > 0 && id.All(char.IsAsciiDigit);

    /// <summary>The request as it is recorded: the GPU ids it gave (in <c>gpus</c> and <c>drm</c>) replaced by the PCI addresses they named now.</summary>
    public static AttachRequest Resolved(AttachRequest request, AttachmentPlan plan)
    {
        var resolved = request.Gpus is { Count: > 0 } ? request with { Gpus = plan.Gpus } : request;
        return request.Drm is { Count: > 0 } && plan.Drm is { } drm ? resolved with { Drm = drm.Gpus } : resolved;
    }

    /// <summary>
    /// The request to replan <paramref name="record"/> with: its GPUs by the PCI addresses recorded (records written
    /// before indexes were resolved still hold them), in the mode in effect.
    /// </summary>
    public static AttachRequest Replan(AttachmentRecord record) =>
        record.Request.Gpus is { Count: > 0 } ? record.Request with { Gpus = record.Gpus, Mode = record.Mode } : record.Request with { Mode = record.Mode };

    /// <summary>The body of a PUT that rewrites <paramref name="record"/>'s lines for the same GPUs, as JSON.</summary>
    public static string FixBody(AttachmentRecord record) =>
        JsonSerializer.Serialize(record.Request.Gpus is { Count: > 0 } ? record.Request with { Gpus = record.Gpus } : record.Request, Json);

    /// <summary>
    /// Refuses (409 <see cref="AttachmentProblems.CannotAttach"/>) a request that names GPUs by index when, for a
    /// container already attached, those indexes now name other GPUs than the attached ones: after a reboot that only
    /// renumbered the GPUs, repeating the first PUT must not move the container to another card.
    /// </summary>
    public static void RefuseIndexThatMoves(string containerId, AttachRequest request, AttachmentRecord? record, AttachmentPlan plan, IReadOnlyList<Gpu> gpus)
    {
        if (record is null || request.Gpus is not { } ids || !ids.Any(IsIndex) ||
            plan.Gpus.Order(StringComparer.Ordinal).SequenceEqual(record.Gpus.Order(StringComparer.Ordinal)))
        {
            return;
        }

        var named = string.Join(", ", ids.Where(IsIndex).Select(id => $"index {id} names {GpuInventory.Match(gpus, id)?.PciAddress}"));
        throw AttachmentProblems.CannotAttach.With(
            $"Container {containerId} is attached to {string.Join(", ", record.Gpus)}, but {named} now: NVML's indexes can change between boots, " +
            "so an index does not say which GPU is meant.",
            $"Name the GPUs by PCI address or UUID: {FixBody(record)} keeps the container on its GPU; " +
            $"{JsonSerializer.Serialize(request with { Gpus = plan.Gpus }, Json)} moves it.");
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiJson.Configure(options);
        return options;
    }
}
