using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuLxc.Client;

/// <summary>
/// NSwag puts a string-enum converter on enum properties but not on arrays of enums (an attachment's
/// <c>capabilities</c>), which would go out as numbers the service refuses: every enum is a camelCase string, as the
/// service writes and reads them.
/// </summary>
public partial class GpuLxcClient
{
    static partial void UpdateJsonSerializerSettings(JsonSerializerOptions settings) =>
        settings.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
}
