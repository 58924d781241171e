using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuLxc.Api.Tests.Support;
using Xunit.Abstractions;

namespace GpuLxc.Api.Tests.Infrastructure;

/// <summary>
/// Every operation of the served contract, sent malformed bodies and parameters: each answer is a 400 problem with
/// <c>errors</c> naming the field as the JSON does, in the API's own words, and nothing under the host root changes
/// and no job starts. New operations are walked as soon as they are in the document.
/// </summary>
public sealed class MalformedInputTests(ITestOutputHelper output)
{
    /// <summary>Well-formed values of the string fields and parameters the API has, to break one thing at a time.</summary>
    private static readonly Dictionary<string, string> Samples = new(StringComparer.Ordinal)
    {
        ["containerId"] = "101",
        ["gpuId"] = "0",
        ["holder"] = "jellyfin",
        ["version"] = "550.127.05",
        ["package"] = "nvidia-driver",
        ["runInstaller"] = "/root/NVIDIA-Linux-x86_64-550.127.05.run",
        ["target"] = "101",
        ["state"] = "failed",
        ["kind"] = "guestVerify",
        ["jobId"] = "0123456789abcdef",
        ["leaseId"] = "0123456789abcdef",
    };

    /// <summary>Ids the service issued itself: one it never issued is looked up and not found (404), never reaches the host.</summary>
    private static readonly HashSet<string> OpaqueIds = ["jobId", "leaseId"];

    /// <summary>What an error must never show: .NET type names and framework hints.</summary>
    private static readonly string[] Leaks = ["GpuLxc.", "System.", "Implicit body", "Did you mean", ".NET", "could not be mapped", "Nullable`", "Failed to bind parameter"];

    [Fact]
    public async Task EveryOperationRefusesMalformedInputWith400AndChangesNothingOnTheHost()
    {
        using var factory = new GpuLxcApiFactory(ContainerHosts.Pve8());
        using var http = factory.CreateKeyedClient();
        var document = JsonNode.Parse(await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)))!;
        var before = HashTree(factory.Host.Root);
        var failures = new List<string>();
        var sent = 0;

        foreach (var (template, pathItem) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in pathItem!.AsObject())
            {
                foreach (var probe in Probes(document, template, method, operation!))
                {
                    sent++;
                    if (await SendAsync(http, probe) is { } failure)
                    {
                        failures.Add(failure);
                    }
                }
            }
        }

        output.WriteLine($"{sent} malformed requests sent");
        Assert.True(sent > 100, $"only {sent} probes: the walk did not find the operations");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal("[]", await http.GetStringAsync(new Uri("/api/v1/jobs", UriKind.Relative)));
        Assert.Equal(before, HashTree(factory.Host.Root));
    }

    [Fact]
    public async Task QueryParametersAreCamelCaseInTheContract()
    {
        using var factory = new GpuLxcApiFactory();
        using var http = factory.CreateKeyedClient();
        var document = JsonNode.Parse(await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)))!;

        var names = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Select(op => op.Value!["parameters"]?.AsArray() ?? []))
            .SelectMany(parameters => parameters)
            .Where(parameter => (string?)parameter!["in"] is "query" or "path")
            .Select(parameter => (string)parameter!["name"]!)
            .Distinct()
            .ToList();

        Assert.Contains("dryRun", names);
        Assert.All(names, name => Assert.Matches("^[a-z][A-Za-z0-9]*\\z", name));
    }

    /// <summary>One malformed request and what its 400 must name.</summary>
    private sealed record Probe(
        string Operation, HttpMethod Method, string Path, string? Body, string Field, string[]? MustList = null, bool MayBeNotFound = false, string? MustSay = null)
    {
        public override string ToString() => $"{Operation}: {Method} {Path} {Body}";
    }

    private static IEnumerable<Probe> Probes(JsonNode document, string template, string method, JsonNode operation)
    {
        var name = (string?)operation["operationId"] ?? $"{method} {template}";
        var httpMethod = new HttpMethod(method.ToUpperInvariant());
        var parameters = operation["parameters"]?.AsArray().Select(p => p!).ToList() ?? [];
        var pathParameters = parameters.Where(p => (string?)p["in"] == "path").Select(p => (string)p["name"]!).ToList();
        var body = operation["requestBody"]?["content"]?["application/json"]?["schema"] is { } bodySchema ? Resolve(document, bodySchema) : null;
        var validBody = body is null ? null : "{}";

        string PathWith(string? broken = null, string? value = null) =>
            pathParameters.Aggregate(template, (path, p) => path.Replace($"{{{p}}}", Uri.EscapeDataString(p == broken ? value! : Samples[p]), StringComparison.Ordinal));

        // Ids in the path, with a trailing newline (a $-anchored pattern lets it through to a host path).
        foreach (var parameter in pathParameters)
        {
            yield return new Probe(name, httpMethod, PathWith(parameter, Samples[parameter] + "\n"), validBody, parameter, MayBeNotFound: OpaqueIds.Contains(parameter));
        }

        // Query parameters: the wrong type, a trailing newline, the wrong case of an enum value.
        foreach (var parameter in parameters.Where(p => (string?)p["in"] == "query"))
        {
            var parameterName = (string)parameter["name"]!;
            var schema = Resolve(document, parameter["schema"]!);
            var sample = Samples.GetValueOrDefault(parameterName, "x");
            // Query booleans and integers parse as .NET's TryParse does (surrounding blanks and the case of true/false
            // allowed): only values that are not numbers or booleans at all are refused.
            string[] values = (string?)schema["type"] switch
            {
                "boolean" => ["maybe", "1"],
                "integer" => ["ten", "1.5", "1e3"],
                _ => [sample + "\n", sample.ToUpperInvariant(), " " + sample],
            };
            var says = (string?)schema["type"] switch { "boolean" => "true or false", "integer" => "a whole number", _ => null };
            foreach (var value in values.Where(v => v != sample))
            {
                yield return new Probe(name, httpMethod, $"{PathWith()}?{parameterName}={Uri.EscapeDataString(value)}", validBody, parameterName, MustSay: says);
            }
        }

        if (body is null)
        {
            yield break;
        }

        // Every other probe keeps the required fields well-formed, so that it breaks one thing only.
        var properties = body["properties"]?.AsObject().ToList() ?? [];
        var required = body["required"]?.AsArray().Select(r => (string)r!).ToHashSet() ?? [];
        string With(string? property, params string[] members) =>
            "{" + string.Join(",", properties.Where(p => required.Contains(p.Key) && p.Key != property)
                .Select(p => $"\"{p.Key}\":{ValidValue(document, p.Key, Resolve(document, p.Value!))}").Concat(members)) + "}";

        foreach (var whole in (string[])["null", "[]", "\"{}\"", "42", "", "{", "{,}", With(null) + " {}"])
        {
            yield return new Probe(name, httpMethod, PathWith(), whole, "$");
        }

        yield return new Probe(name, httpMethod, PathWith(), With(null, "\"surprise\":true"), "$.surprise", MustSay: "is not a field");
        foreach (var (property, propertySchemaNode) in properties)
        {
            var schema = Resolve(document, propertySchemaNode!);
            var valid = ValidValue(document, property, schema);
            var pascal = char.ToUpperInvariant(property[0]) + property[1..];
            yield return new Probe(name, httpMethod, PathWith(), With(property, $"\"{property}\":{valid}", $"\"{property}\":{valid}"), "$." + property, MustSay: "more than once");
            yield return new Probe(name, httpMethod, PathWith(), With(property, $"\"{pascal}\":{valid}"), "$." + pascal, MustSay: "is not a field");
            foreach (var (broken, brokenField, mustList) in Malformed(document, property, schema))
            {
                yield return new Probe(name, httpMethod, PathWith(), With(property, $"\"{property}\":{broken}"), brokenField, mustList);
            }
        }
    }

    /// <summary>Values of the wrong kind for a property, each with the error key it must produce.</summary>
    private static IEnumerable<(string Json, string Field, string[]? MustList)> Malformed(JsonNode document, string property, JsonNode schema)
    {
        var field = "$." + property;
        if (schema["enum"] is JsonArray allowed)
        {
            var values = allowed.Select(v => (string)v!).ToArray();
            var first = values[0];
            yield return (Quote(first.ToUpperInvariant()), field, values);
            yield return (Quote(char.ToUpperInvariant(first[0]) + first[1..]), field, values);
            yield return (Quote(first + " "), field, values);
            yield return (Quote(first + "\n"), field, values);
            yield return ("1", field, values);
            yield return ("null", field, null);
            if (values.Length > 1)
            {
                yield return (Quote($"{values[0]},{values[1]}"), field, values);
            }

            yield break;
        }

        switch ((string?)schema["type"])
        {
            case "integer":
                yield return ("\"60\"", field, null);
                yield return ("1.5", field, null);
                yield return ("true", field, null);
                yield return ("[60]", field, null);
                break;
            case "boolean":
                yield return ("\"true\"", field, null);
                yield return ("1", field, null);
                yield return ("null", field, null);
                break;
            case "string":
                yield return ("5", field, null);
                yield return ("[]", field, null);
                yield return (Quote(Samples.GetValueOrDefault(property, "x") + "\n"), property, null);
                break;
            case "array":
                var items = Resolve(document, schema["items"]!);
                yield return ("\"0\"", field, null);
                yield return ("{}", field, null);
                foreach (var (json, _, mustList) in Malformed(document, property, items).Where(m => m.Json != "null"))
                {
                    yield return ($"[{json}]", field + "[0]", mustList);
                }

                break;
            default:
                throw new InvalidOperationException($"No malformed values for {property}'s schema {schema.ToJsonString()}: add them here.");
        }
    }

    private static string ValidValue(JsonNode document, string property, JsonNode schema) =>
        schema["enum"] is JsonArray allowed ? Quote((string)allowed[0]!)
        : (string?)schema["type"] switch
        {
            "integer" => "60",
            "boolean" => "true",
            "array" => $"[{ValidValue(document, property, Resolve(document, schema["items"]!))}]",
            _ => Quote(Samples.GetValueOrDefault(property, "x")),
        };

    private static string Quote(string value) => JsonSerializer.Serialize(value);

    /// <summary>A schema with its <c>$ref</c> (or the <c>allOf</c> wrapping one) followed.</summary>
    private static JsonNode Resolve(JsonNode document, JsonNode schema)
    {
        var reference = (string?)schema["$ref"] ?? (string?)schema["allOf"]?[0]?["$ref"];
        return reference is null ? schema : document["components"]!["schemas"]![reference.Split('/')[^1]]!;
    }

    /// <summary>Sends the probe; null when it got the 400 it should, else what went wrong.</summary>
    private static async Task<string?> SendAsync(HttpClient http, Probe probe)
    {
        using var request = new HttpRequestMessage(probe.Method, new Uri("/api/v1" + probe.Path.Replace("/api/v1", "", StringComparison.Ordinal), UriKind.Relative));
        if (probe.Body is not null)
        {
            request.Content = new StringContent(probe.Body, Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (probe.MayBeNotFound && response.StatusCode == HttpStatusCode.NotFound)
        {
            // Not found, as an id never issued is; but what was sent is not written back (here: its newline).
            return text.Contains("\\n", StringComparison.Ordinal) ? $"{probe} → 404 echoes the malformed id: {text}" : null;
        }

        if (response.StatusCode != HttpStatusCode.BadRequest || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return $"{probe} → {(int)response.StatusCode} {response.Content.Headers.ContentType?.MediaType}: {text}";
        }

        var problem = JsonNode.Parse(text)!;
        if (problem["errors"] is not JsonObject errors || errors.Count == 0 || !errors.All(e => e.Value is JsonArray { Count: > 0 } messages && messages.All(m => m is JsonValue)))
        {
            return $"{probe} → a 400 without errors of field → messages: {text}";
        }

        // A body the serializer refuses is keyed by its JSON path ($.mode), one the validator refuses by the field (mode).
        var fields = new[] { probe.Field, probe.Field.StartsWith("$.", StringComparison.Ordinal) ? probe.Field[2..] : probe.Field };
        if (!errors.Any(e => fields.Any(f => e.Key == f || e.Key.StartsWith(f + "[", StringComparison.Ordinal))))
        {
            return $"{probe} → errors do not name {probe.Field}: {text}";
        }

        if (Leaks.FirstOrDefault(leak => text.Contains(leak, StringComparison.Ordinal)) is { } leaked)
        {
            return $"{probe} → the answer shows '{leaked}': {text}";
        }

        if (probe.MustSay is { } words && !text.Contains(words, StringComparison.Ordinal))
        {
            return $"{probe} → the answer does not say '{words}': {text}";
        }

        if (probe.MustList is { } values && values.FirstOrDefault(v => !text.Contains($"\\u0022{v}\\u0022", StringComparison.Ordinal) && !text.Contains($"\\\"{v}\\\"", StringComparison.Ordinal)) is { } missing)
        {
            return $"{probe} → the answer does not list the allowed value \"{missing}\": {text}";
        }

        return null;
    }

    /// <summary>Every entry under the host root: its path, type, mode and (regular files) content hash; device nodes are not opened.</summary>
    private static string HashTree(string root)
    {
        var lines = new DirectoryInfo(root)
            .EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(entry =>
            {
                var relative = Path.GetRelativePath(root, entry.FullName);
                var kind = entry.LinkTarget is { } target ? $"link {target}"
                    : entry is DirectoryInfo ? "dir"
                    : relative.StartsWith("dev/", StringComparison.Ordinal) ? "node"
                    : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(entry.FullName)));
                return $"{relative} {entry.UnixFileMode} {kind}";
            })
            .Order(StringComparer.Ordinal);
        return string.Join("\n", lines);
    }
}
