using System.Text.Json;
using System.Text.Json.Serialization;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Jobs;

/// <summary>
/// A job's parameters are the request record it was started with, stored as JSON in <c>job.parameters</c>
/// (camelCase, enums by <see cref="EnumNames"/>, nulls left out) and read back as that record by the work that runs
/// it. Jobs stored before typed parameters existed hold a JSON object of strings under the same names, so they read
/// back the same way.
/// </summary>
public static class JobParameters
{
    private static readonly JsonSerializerOptions Json = CreateJsonOptions();

    /// <summary>The request as <c>job.parameters</c> stores it, e.g. <c>{"method":"runInstaller","runInstaller":"/root/NVIDIA-Linux-x86_64-550.127.05.run"}</c>.</summary>
    public static string Store<TRequest>(TRequest request)
        where TRequest : class => JsonSerializer.Serialize(request, Json);

    /// <summary>The stored request read back as <typeparamref name="TRequest"/>.</summary>
    /// <exception cref="JsonException">The stored JSON is not a <typeparamref name="TRequest"/>.</exception>
    public static TRequest Read<TRequest>(string stored)
        where TRequest : class =>
        JsonSerializer.Deserialize<TRequest>(stored, Json) ?? throw new JsonException($"The job's parameters are null, not a {typeof(TRequest).Name}.");

    /// <summary>
    /// What the job API shows as <c>parameters</c>: the stored object's members as strings (numbers and booleans in
    /// their JSON spelling), nulls left out. Text that is not a JSON object shows as no parameters: a job must stay
    /// listable whatever its row holds.
    /// </summary>
    public static IReadOnlyDictionary<string, string> View(string stored)
    {
        var view = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(stored);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return view;
            }

            foreach (var member in document.RootElement.EnumerateObject())
            {
                if (member.Value.ValueKind == JsonValueKind.String)
                {
                    view[member.Name] = member.Value.GetString()!;
                }
                else if (member.Value.ValueKind != JsonValueKind.Null)
                {
                    view[member.Name] = member.Value.GetRawText();
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: shown as no parameters (see above).
        }

        return view;
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
        ApiJson.Configure(options);
        return options;
    }
}
