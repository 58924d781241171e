using FluentValidation;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>The rules of <see cref="AttachRequest"/> that hold on any host: at most 64 well-formed GPU ids (in gpus and in drm), a known mode and userspace, known capabilities, a well-formed group name.</summary>
internal sealed class AttachRequestValidator : AbstractValidator<AttachRequest>
{
    public AttachRequestValidator()
    {
        RuleFor(r => r.Gpus).Must(gpus => gpus is null || gpus.Count <= 64).WithMessage("At most 64 GPUs.");
        RuleForEach(r => r.Gpus).Must(id => id is not null && GpuIds.IsWellFormed(id)).WithMessage($"Each GPU must be {GpuIds.Rule}.");
        RuleFor(r => r.Drm).Must(drm => drm is null || drm.Count <= 64).WithMessage("At most 64 GPUs in drm.");
        RuleForEach(r => r.Drm).Must(id => id is not null && GpuIds.IsWellFormed(id)).WithMessage($"Each GPU in drm must be {GpuIds.Rule}.");
        RuleFor(r => r.Mode).IsInEnum();
        RuleFor(r => r.Userspace).IsInEnum();
        RuleForEach(r => r.Capabilities).IsInEnum();
        RuleFor(r => r.Group).Matches(@"^[a-z_][a-z0-9_-]{0,31}\z").When(r => r.Group is not null)
            .WithMessage("Group must be a POSIX group name: a lowercase letter or '_', then up to 31 lowercase letters, digits, '_' or '-'.");
        RuleFor(r => r.Capabilities).Must(c => c is null || c.Count > 0).WithMessage("Capabilities, when given, name at least one (or omit them for the default).");
    }
}
