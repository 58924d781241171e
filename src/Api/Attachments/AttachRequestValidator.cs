using FluentValidation;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>400 for an <see cref="AttachRequest"/> that no host could satisfy: too many GPUs, a malformed GPU id, an unknown mode.</summary>
internal sealed class AttachRequestValidator : AbstractValidator<AttachRequest>
{
    public AttachRequestValidator()
    {
        RuleFor(r => r.Gpus).Must(gpus => gpus is null || gpus.Count <= 64).WithMessage("At most 64 GPUs.");
        RuleForEach(r => r.Gpus).Must(id => id is not null && InventoryApi.IsWellFormedGpuId(id))
            .WithMessage($"Each GPU must be {InventoryApi.GpuIdRule}.");
        RuleFor(r => r.Mode).IsInEnum();
    }
}
