using GpuLxc.Api.Events;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Publishes <see cref="EventTypes.DriftFound"/> when a container's drift status becomes one other than
/// <see cref="DriftStatus.InSync"/>, as the reads of <see cref="AttachmentService"/> compute it (the metrics refresh
/// reads every attachment every <c>GpuLxc:Metrics:RefreshSeconds</c>, so drift is found without a client asking).
/// Once per change, not per read; the last status is kept in memory, so after a restart a container still drifted is
/// reported once more.
/// </summary>
public sealed class DriftEvents(IEventPublisher events)
{
    private readonly Dictionary<string, DriftStatus> _last = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public void Observe(Attachment attachment)
    {
        var status = attachment.Drift.Status;
        lock (_gate)
        {
            if (_last.TryGetValue(attachment.ContainerId, out var previous) ? previous == status : status == DriftStatus.InSync)
            {
                _last[attachment.ContainerId] = status;
                return;
            }

            _last[attachment.ContainerId] = status;
        }

        if (status != DriftStatus.InSync)
        {
            events.Publish(EventTypes.DriftFound, new
            {
                attachment.ContainerId,
                Drift = EnumNames.Of(status),
                attachment.Drift.Detail,
                attachment.Drift.Fix,
            });
        }
    }

}
