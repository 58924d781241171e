using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Metadata;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// Turns what ASP.NET Core and System.Text.Json refuse a request with into our own 400s, in the API's terms: fields
/// by their JSON path and name, what each must be (JSON types, an enum's allowed values), and never a .NET type name
/// or a framework hint. What the framework said goes to the log only (<see cref="ApiExceptionHandler"/>).
/// </summary>
internal static partial class BadRequests
{
    /// <summary>The problem for a request the framework refused before the handler ran.</summary>
    /// <param name="exception">Its refusal: a body that is not valid JSON for the operation (inner <see cref="JsonException"/>), a missing body, or a parameter that does not parse.</param>
    /// <param name="bodyType">The operation's body type (from its <see cref="IAcceptsMetadata"/>), null when it takes none.</param>
    /// <param name="json">The serializer options bodies are read with, to walk a JSON path to the field it names.</param>
    public static ProblemException ToProblem(BadHttpRequestException exception, Type? bodyType, JsonSerializerOptions json)
    {
        if (exception.InnerException is JsonException invalid)
        {
            var (path, message) = DescribeJson(invalid, bodyType, json);
            return new ProblemException(RequestProblems.InvalidJson, message) { Errors = { [path] = [message] } };
        }

        var match = BindingPattern().Match(exception.Message);
        if (exception.StatusCode != StatusCodes.Status400BadRequest || !match.Success)
        {
            return exception.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => RequestProblems.TooLarge.With($"The body is over {GpuLxcDefaults.MaxRequestBodyBytes / 1024 / 1024} MiB."),
                StatusCodes.Status415UnsupportedMediaType => RequestProblems.UnsupportedMediaType.With("Send the body as application/json."),
                StatusCodes.Status400BadRequest => Malformed("request", "The request could not be read."),
                var status => (RequestProblems.Malformed with { Status = status }).With("The request could not be read."),
            };
        }

        var name = JsonNamingPolicy.CamelCase.ConvertName(match.Groups["name"].Value);
        var source = match.Groups["source"].Value;
        if (bodyType is not null && (match.Groups["implicit"].Success || source == "body" || source.Contains("request body", StringComparison.Ordinal)))
        {
            return Malformed("$", "The body must be a JSON object (send {} for the defaults).");
        }

        return match.Groups["value"].Success
            ? Malformed(name, $"{name} must be {DescribeClrName(match.Groups["type"].Value)}, not '{match.Groups["value"].Value}'.")
            : Malformed(name, $"{name} is required.");
    }

    private static ProblemException Malformed(string field, string message) =>
        new(RequestProblems.Malformed, message) { Errors = { [field] = [message] } };

    /// <summary>The JSON path of the error and what is wrong there, found by walking the path through the body's type.</summary>
    private static (string Path, string Message) DescribeJson(JsonException exception, Type? bodyType, JsonSerializerOptions json)
    {
        var path = string.IsNullOrEmpty(exception.Path) ? "$" : exception.Path;
        if (exception.InnerException is JsonException syntax)
        {
            var reason = syntax.Message;
            var positionAt = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            return (path, $"Not valid JSON at line {exception.LineNumber + 1}, byte {exception.BytePositionInLine}: {(positionAt > 0 ? reason[..positionAt] : reason)}");
        }

        var segments = PathSegments(path);
        var field = segments.Count == 0 ? "the body" : string.Concat(segments.Select((s, i) => s.StartsWith('[') || i == 0 ? s : "." + s));
        Type? type = bodyType;
        Type? parent = null;
        foreach (var segment in segments)
        {
            if (type is null)
            {
                break;
            }

            parent = type;
            var info = json.GetTypeInfo(Nullable.GetUnderlyingType(type) ?? type);
            if (segment.StartsWith('['))
            {
                type = info.ElementType;
                continue;
            }

            var property = info.Kind == JsonTypeInfoKind.Object ? info.Properties.FirstOrDefault(p => p.Name == segment) : null;
            if (property is null && info.Kind == JsonTypeInfoKind.Object)
            {
                var fields = string.Join(", ", info.Properties.Select(p => p.Name));
                return (path, fields.Length == 0
                    ? $"{segment} is not a field here: this object takes no fields."
                    : $"{segment} is not a field here; the fields are: {fields}.");
            }

            type = property?.PropertyType ?? info.ElementType;
        }

        if (MissingPattern().Match(exception.Message) is { Success: true } missing)
        {
            var name = missing.Groups["name"].Value;
            return (path == "$" ? "$." + name : $"{path}.{name}", $"{name} is required.");
        }

        if (exception.Message.StartsWith("Duplicate property", StringComparison.Ordinal))
        {
            return (path, $"{field} is given more than once.");
        }

        var expected = type is null ? "a value of the declared type" : Describe(type, json);
        return exception.Message.Contains("null value", StringComparison.Ordinal) && parent is not null
            ? (path, $"{field} must be {expected}, not null.")
            : (path, segments.Count == 0 ? $"The body must be {expected}." : $"{field} must be {expected}.");
    }

    /// <summary>What a value of <paramref name="type"/> looks like in JSON.</summary>
    private static string Describe(Type type, JsonSerializerOptions json)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsEnum)
        {
            return StrictEnumConverter.AllowedValues(type);
        }

        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "true or false",
            TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64 =>
                "a whole number (a JSON number, not a string)",
            TypeCode.Single or TypeCode.Double or TypeCode.Decimal => "a number (a JSON number, not a string)",
            TypeCode.String => "a string",
            _ => json.GetTypeInfo(type).Kind switch
            {
                JsonTypeInfoKind.Enumerable => "an array",
                JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary => "a JSON object",
                _ => "a value of the declared type",
            },
        };
    }

    /// <summary>What a query or route value of the C# type ASP.NET Core names (<c>Nullable&lt;bool&gt;</c>, <c>int</c>) must be.</summary>
    private static string DescribeClrName(string type) => ClrTypePattern().Match(type).Groups["name"].Value switch
    {
        "bool" or "Boolean" => "true or false",
        "int" or "long" or "short" or "uint" or "ulong" or "Int32" or "Int64" or "Int16" or "UInt32" or "UInt64" => "a whole number",
        "double" or "float" or "decimal" or "Double" or "Single" or "Decimal" => "a number",
        _ => "a valid value",
    };

    /// <summary><c>Nullable&lt;bool&gt;</c>, <c>bool?</c>, <c>System.Int32</c> → the bare type name.</summary>
    [GeneratedRegex(@"^(?:Nullable<)?(?:System\.)?(?<name>[A-Za-z0-9]+)>?\??\z")]
    private static partial Regex ClrTypePattern();

    /// <summary><c>$.gpus[0]</c> → <c>gpus</c>, <c>[0]</c>; <c>$['a b']</c> → <c>a b</c>.</summary>
    private static List<string> PathSegments(string path) =>
        SegmentPattern().Matches(path).Select(m => m.Groups["index"].Success ? $"[{m.Groups["index"].Value}]" : m.Groups["name"].Success ? m.Groups["name"].Value : m.Groups["quoted"].Value.Replace("''", "'", StringComparison.Ordinal)).ToList();

    /// <summary>System.Text.Json's <c>… was missing required properties including: 'holder'.</c></summary>
    [GeneratedRegex("missing required properties including: '(?<name>[^']+)'")]
    private static partial Regex MissingPattern();

    [GeneratedRegex(@"\.(?<name>[^.\[]+)|\['(?<quoted>(?:[^']|'')*)'\]|\[(?<index>[0-9]+)\]")]
    private static partial Regex SegmentPattern();

    /// <summary>
    /// ASP.NET Core's binding refusals: <c>Failed to bind parameter "bool? Restart" from "maybe".</c>, <c>Required
    /// parameter "AttachRequest request" was not provided from body.</c>, <c>Implicit body inferred for parameter
    /// "request" but no body was provided…</c>, <c>Failed to read parameter "X request" from the request body as JSON.</c>
    /// </summary>
    [GeneratedRegex("^(?:(?<implicit>Implicit body inferred for )|Failed to (?:bind|read) |Required )parameter \"(?:(?<type>[^\"]*) )?(?<name>[^\" ]+)\"(?: from \"(?<value>.*)\"\\.$| (?:was not provided )?from (?<source>[^.]+)| but no body)")]
    private static partial Regex BindingPattern();
}
