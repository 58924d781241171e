using GpuLxc.Api.Containers;
using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GpuLxc.Api.Attachments;

/// <summary><c>/attachments</c>: every GPU attachment on the host, whichever container it is in.</summary>
public static class AttachmentsApi
{
    public static RouteGroupBuilder MapAttachments(this RouteGroupBuilder api)
    {
        api.MapGet("/attachments", ListAttachmentsAsync).WithTags("Attachments").WithName("ListAttachments").Problems(ContainerProblems.NoBackend);
        return api;
    }

    [EndpointSummary("Every GPU attachment on the host, with drift")]
    [EndpointDescription("Flags attachments whose lines were edited by hand or whose device majors no longer match the host " +
                         "(after a driver or kernel update), with the fix.")]
    public static async Task<Ok<IReadOnlyList<Attachment>>> ListAttachmentsAsync(AttachmentService service, CancellationToken cancellationToken) =>
        TypedResults.Ok(await service.ListAttachmentsAsync(cancellationToken));
}
