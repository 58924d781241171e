namespace GpuLxc.Api.Infrastructure;

/// <summary>Problems with the request itself, whatever the operation: its shape, its body, its size.</summary>
public static class RequestProblems
{
    /// <summary>A value that fails its rule (a validator, a query parameter's range); <c>errors</c> names each.</summary>
    public static readonly ApiProblem Invalid = new(StatusCodes.Status400BadRequest, "urn:gpulxc:problem:invalid-request", "The request is not valid.");

    /// <summary>A body that does not deserialize; <c>errors</c> is keyed by its JSON path.</summary>
    public static readonly ApiProblem InvalidJson = new(StatusCodes.Status400BadRequest, "urn:gpulxc:problem:invalid-json",
        "The request body is not valid JSON for this operation.");

    /// <summary>A parameter that cannot be bound (<c>?restart=maybe</c>) or a missing body.</summary>
    public static readonly ApiProblem Malformed = new(StatusCodes.Status400BadRequest, "urn:gpulxc:problem:malformed-request", "The request is malformed.");

    public static readonly ApiProblem TooLarge = new(StatusCodes.Status413PayloadTooLarge, "urn:gpulxc:problem:body-too-large", "The request body is too large.");

    public static readonly ApiProblem UnsupportedMediaType = new(StatusCodes.Status415UnsupportedMediaType, "urn:gpulxc:problem:unsupported-media-type",
        "The request body is not JSON.");

    /// <summary>A failure nobody foresaw: the body says only to quote the <c>traceId</c>; the cause goes to the log.</summary>
    public static readonly ApiProblem Unexpected = new(StatusCodes.Status500InternalServerError, "urn:gpulxc:problem:unexpected", "An unexpected error occurred.");

    /// <summary>
    /// The statuses any request can be answered with, whatever its operation declares, each with when: the API
    /// description states them once (<see cref="ApiDocumentation"/>). 405 has no operation to be declared on — the
    /// path has none for that method; 413 is refused before anything looks at what the operation reads (operations
    /// that take a body declare it, with 415); 500 is a bug by definition.
    /// </summary>
    public static IReadOnlyDictionary<int, string> AnyOperation { get; } = new Dictionary<int, string>
    {
        [StatusCodes.Status400BadRequest] = UnknownQueryParameters.When,
        [StatusCodes.Status405MethodNotAllowed] = "a method the path has no operation for (`Allow` lists those it has)",
        [StatusCodes.Status413PayloadTooLarge] = $"a request body over {GpuLxcDefaults.MaxRequestBodyBytes / 1024 / 1024} MiB",
        [StatusCodes.Status500InternalServerError] = "an unexpected failure (quote its `traceId`; the cause is in the service's log)",
    };

    /// <summary>A 400 naming the one <paramref name="field"/> that is wrong.</summary>
    public static ProblemException InvalidField(string field, string message) =>
        new(Invalid, null) { Errors = { [field] = [message] } };
}
