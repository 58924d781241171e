using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace GpuLxc.Client;

/// <summary>
/// Every enum goes out as the contract spells it, camelCase (<c>"raw"</c>, <c>"runInstaller"</c>). NSwag puts a
/// <c>JsonStringEnumConverter&lt;T&gt;</c> on each enum property, which writes the C# name (<c>"Raw"</c>, refused by
/// a service that holds enum values to their declared case), and none on arrays of enums (an attachment's
/// <c>capabilities</c>, which would go out as numbers): the property converters are dropped so that the one
/// camelCase converter serves them all. Reading is unaffected: the converter accepts the names in any case.
/// </summary>
public partial class GpuLxcClient
{
    /// <summary>
    /// The serializer settings the client reads and writes the API with: for a tool that prints what it received as
    /// the service would write it (camelCase names and enum values). Shared: copy it before changing anything.
    /// </summary>
    public static JsonSerializerOptions ContractJsonOptions => _settings.Value;

    static partial void UpdateJsonSerializerSettings(JsonSerializerOptions settings)
    {
        settings.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        settings.TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { DropEnumPropertyConverters } };
    }

    private static void DropEnumPropertyConverters(JsonTypeInfo type)
    {
        foreach (var property in type.Properties)
        {
            if (property.CustomConverter is not null && IsEnum(property.PropertyType))
            {
                property.CustomConverter = null;
            }
        }
    }

    private static bool IsEnum(Type? type) => type is not null && (Nullable.GetUnderlyingType(type) ?? type).IsEnum;
}
