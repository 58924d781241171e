using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// Enums as their <see cref="EnumNames"/> (camelCase) and nothing else. System.Text.Json's own string-enum converter
/// also reads other casings, surrounding blanks, comma-joined flags and digits (<c>"RAW"</c>, <c>"raw "</c>,
/// <c>"raw,dev"</c>, <c>"1"</c>): values the contract does not list, which would be accepted and mean something.
/// </summary>
/// <exception cref="JsonException">On read, for any other token or name; its message lists the allowed values.</exception>
public sealed class StrictEnumConverter : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(Converter<>).MakeGenericType(typeToConvert))!;

    /// <summary>"one of \"auto\", \"raw\", \"dev\"": the allowed values, as the messages about an enum field list them.</summary>
    public static string AllowedValues(Type enumType) =>
        "one of " + string.Join(", ", Enum.GetNames(enumType).Select(name => $"\"{JsonNamingPolicy.CamelCase.ConvertName(name)}\""));

    private sealed class Converter<T> : JsonConverter<T>
        where T : struct, Enum
    {
        private static readonly Dictionary<string, T> ByName = Enum.GetValues<T>().ToDictionary(EnumNames.Of, StringComparer.Ordinal);

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.String && reader.GetString() is { } name && ByName.TryGetValue(name, out var value))
            {
                return value;
            }

            throw new JsonException($"must be {AllowedValues(typeof(T))}.");
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(EnumNames.Of(value));

        public override T ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            ByName.TryGetValue(reader.GetString() ?? "", out var value) ? value : throw new JsonException($"must be {AllowedValues(typeof(T))}.");

        public override void WriteAsPropertyName(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WritePropertyName(EnumNames.Of(value));
    }
}
