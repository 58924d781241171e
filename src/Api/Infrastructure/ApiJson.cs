using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuLxc.Api.Infrastructure;

public static class ApiJson
{
    /// <summary>camelCase everywhere, enums as camelCase strings, and nullability enforced on input.</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.RespectNullableAnnotations = true;
        options.RespectRequiredConstructorParameters = true;
    }

    public static IServiceCollection AddApiJson(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(options => Configure(options.SerializerOptions));
        // Swashbuckle describes schemas with the MVC options; keep both identical.
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(options => Configure(options.JsonSerializerOptions));
        return services;
    }
}
