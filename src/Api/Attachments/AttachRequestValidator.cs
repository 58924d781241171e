using FluentValidation;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>The rules of <see cref="AttachRequest"/> that hold on any host: at most 64 well-formed GPU ids and a known mode.</summary>
internal sealed class AttachRequestValidator : AbstractValidator<AttachRequest>
{
    public AttachRequestValidator()
    {
        RuleFor(r => r.Gpus).Must(gpus => gpus is null || gpus.Count <= 64).WithMessage("At most 64 GPUs.");
        RuleForEach(r => r.Gpus).Must(id => id is not null && GpuIds.IsWellFormed(id)).WithMessage($"Each GPU must be {GpuIds.Rule}.");
        RuleFor(r => r.Mode).IsInEnum();
    }
}
