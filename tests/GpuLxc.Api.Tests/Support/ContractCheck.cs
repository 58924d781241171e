using System.Collections.Concurrent;
using System.Text.Json;
using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace GpuLxc.Api.Tests.Support;

/// <summary>
/// Holds every <c>/api</c> answer of a test's service to the contract, so that every integration test is also a
/// contract test: the status must be one its operation declares (as the OpenAPI document is made from the same
/// metadata), or one any request can get (<see cref="RequestProblems.AnyOperation"/>); an error must be problem+json
/// with <c>type</c>, <c>title</c>, <c>status</c>, <c>instance</c> and <c>traceId</c>, and a 400 must have <c>errors</c>.
/// Breaches are collected in <see cref="Violations"/>; <see cref="GpuLxcApiFactory"/> fails the test with them.
/// A <c>text/event-stream</c> answer never ends on its own: it passes through unbuffered (<see cref="StreamAwareBody"/>),
/// and only its status is checked, once it ends.
/// </summary>
internal sealed class ContractCheck : IStartupFilter
{
    /// <summary>What Kestrel and the exception handler record when the client went away: nobody reads that answer.</summary>
    private const int ClientClosedRequest = 499;

    private static readonly string[] ProblemMembers = ["type", "title", "status", "instance", "traceId"];

    public ConcurrentQueue<string> Violations { get; } = new();

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(CheckAsync);
        next(app);
    };

    private async Task CheckAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        // Buffered, so that the body can be read once the answer is complete.
        var client = context.Response.Body;
        using var buffer = new MemoryStream();
        var body = new StreamAwareBody(context, buffer, client);
        context.Response.Body = body;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = client;
        }

        var status = context.Response.StatusCode;
        if (status != ClientClosedRequest)
        {
            var request = $"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}";
            // The exception handler clears the endpoint of a request that threw; its feature keeps it.
            CheckStatus(request, status, context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint);
            if (status >= 400 && !body.Streaming)
            {
                CheckProblem(request, status, context.Response.ContentType, buffer.ToArray());
            }
        }

        if (!body.Streaming)
        {
            buffer.Position = 0;
            await buffer.CopyToAsync(client);
        }
    }

    /// <summary>Only an operation can declare: the endpoint that answers 405 for a path without the method is none.</summary>
    private void CheckStatus(string request, int status, Endpoint? endpoint)
    {
        if (endpoint is not RouteEndpoint operation)
        {
            return;
        }

        var declared = operation.Metadata.OfType<IProducesResponseTypeMetadata>().Select(m => m.StatusCode).ToHashSet();
        if (!declared.Contains(status) && !RequestProblems.AnyOperation.ContainsKey(status))
        {
            var name = operation.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName;
            Violations.Enqueue($"{request} ({name}) answered {status}, which its contract does not declare ({string.Join(", ", declared.Order())}).");
        }
    }

    private void CheckProblem(string request, int status, string? contentType, byte[] body)
    {
        if (contentType?.StartsWith("application/problem+json", StringComparison.Ordinal) != true)
        {
            Violations.Enqueue($"{request} answered {status} as '{contentType}', not application/problem+json.");
            return;
        }

        JsonElement problem;
        try
        {
            problem = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException)
        {
            Violations.Enqueue($"{request} answered {status} with a body that is not JSON.");
            return;
        }

        var missing = ProblemMembers.Where(member => !problem.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null).ToList();
        if (status == StatusCodes.Status400BadRequest && !(problem.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object))
        {
            missing.Add("errors");
        }

        if (missing.Count > 0)
        {
            Violations.Enqueue($"{request} answered {status} without {string.Join(", ", missing)}: {problem}");
        }
        else if (problem.GetProperty("status").GetInt32() != status)
        {
            Violations.Enqueue($"{request} answered {status} with a body that says {problem.GetProperty("status")}.");
        }
    }

    /// <summary>
    /// The response body while the check runs: into the buffer, unless the answer is <c>text/event-stream</c> when it
    /// first writes or flushes; from then on straight to the client, flushes included, so that a test reads events as
    /// they are sent.
    /// </summary>
    private sealed class StreamAwareBody(HttpContext context, MemoryStream buffer, Stream client) : Stream
    {
        private bool? _streaming;

        public bool Streaming => _streaming == true;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        /// <summary>Decided by the first write, or by a flush once the content type is set.</summary>
        private Stream Target(bool writing)
        {
            if (_streaming is null && (writing || context.Response.ContentType is not null))
            {
                _streaming = context.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true;
            }

            return Streaming ? client : buffer;
        }

        public override void Write(byte[] buffer, int offset, int count) => Target(writing: true).Write(buffer, offset, count);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Target(writing: true).WriteAsync(buffer, offset, count, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            Target(writing: true).WriteAsync(buffer, cancellationToken);

        public override void Flush() => Target(writing: false).Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => Target(writing: false).FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
