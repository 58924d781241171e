using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuLxc.Client;

/// <summary>
/// The members every GpuLxc error carries besides RFC 9457's five (the contract says so in its description, not in
/// the schema, which ASP.NET Core owns): read from the problem's extension members. They are views of those members,
/// not members of their own: serialized, a problem has each once, as the service sent it (<c>fix</c>, not also <c>Fix</c>).
/// </summary>
public partial class ProblemDetails
{
    /// <summary>What to do about it, where GpuLxc knows (<c>"Stop the backup, or wait for it to finish."</c>). Null when absent.</summary>
    [JsonIgnore]
    public string? Fix => ProblemMembers.Text(AdditionalProperties, "fix");

    /// <summary>The request's trace id, to quote when reporting a 500 (the log has the stack trace). Null when absent.</summary>
    [JsonIgnore]
    public string? TraceId => ProblemMembers.Text(AdditionalProperties, "traceId");

    /// <summary>The id of the job that holds the target, on a 409 that refused to start another. Null when absent.</summary>
    [JsonIgnore]
    public string? JobId => ProblemMembers.Text(AdditionalProperties, "jobId");

    /// <summary>A 400's messages by field or JSON path (<c>ttlSeconds</c>, <c>$.gpus[0]</c>); empty when there are none.</summary>
    [JsonIgnore]
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Errors => ProblemMembers.Errors(AdditionalProperties);
}

/// <inheritdoc cref="ProblemDetails"/>
public partial class HttpValidationProblemDetails
{
    /// <summary>The request's trace id. Null when absent.</summary>
    [JsonIgnore]
    public string? TraceId => ProblemMembers.Text(AdditionalProperties, "traceId");

    /// <summary>What to do about it, where GpuLxc knows. Null when absent.</summary>
    [JsonIgnore]
    public string? Fix => ProblemMembers.Text(AdditionalProperties, "fix");
}

/// <summary>Every error the service answers, as a typed problem, whichever status it came with.</summary>
public partial class GpuLxcApiException
{
    /// <summary>
    /// The problem+json body, whatever the status: the typed result of a status the operation declares, else parsed
    /// from the raw <see cref="Response"/> (405, 413, 500, … which any request may get). A 400's field messages are in
    /// <see cref="ProblemDetails.Errors"/>. Null when the body is not a problem (a proxy's HTML page, an empty body).
    /// </summary>
    public ProblemDetails? Problem => this switch
    {
        GpuLxcApiException<ProblemDetails> typed => typed.Result,
        GpuLxcApiException<HttpValidationProblemDetails> validation => ProblemMembers.Parse(JsonSerializer.Serialize(validation.Result)),
        _ => ProblemMembers.Parse(Response),
    };
}

internal static class ProblemMembers
{
    public static string? Text(IDictionary<string, object>? members, string name) =>
        members is not null && members.TryGetValue(name, out var value) ? value switch
        {
            JsonElement { ValueKind: JsonValueKind.String } element => element.GetString(),
            JsonElement { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } => null,
            JsonElement element => element.GetRawText(),
            null => null,
            var other => other.ToString(),
        } : null;

    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Errors(IDictionary<string, object>? members)
    {
        if (members is null || !members.TryGetValue("errors", out var value) || value is not JsonElement { ValueKind: JsonValueKind.Object } errors)
        {
            return new Dictionary<string, IReadOnlyList<string>>();
        }

        return errors.EnumerateObject().ToDictionary(
            field => field.Name,
            field => (IReadOnlyList<string>)(field.Value.ValueKind == JsonValueKind.Array
                ? [.. field.Value.EnumerateArray().Select(message => message.ToString())]
                : [field.Value.ToString()]));
    }

    public static ProblemDetails? Parse(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        try
        {
            var problem = JsonSerializer.Deserialize<ProblemDetails>(body);
            return problem is { Title: not null } or { Type: not null } or { Status: not null } ? problem : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
