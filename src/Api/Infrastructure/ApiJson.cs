using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// The one JSON dialect of the API, for every body in and out: camelCase names, enums as their camelCase names, and
/// input read strictly — what the contract does not declare is refused (400) rather than guessed at.
/// </summary>
public static class ApiJson
{
    /// <summary>
    /// The dialect, also for what the service stores and reads back itself: camelCase names, enum values only as
    /// declared (<see cref="StrictEnumConverter"/>), nullability enforced.
    /// </summary>
    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new StrictEnumConverter());
        options.RespectNullableAnnotations = true;
        options.RespectRequiredConstructorParameters = true;
    }

    /// <summary>
    /// <see cref="Configure"/>, and for request bodies: names exactly as written (no case folding), no unknown
    /// property, no property twice, numbers only as JSON numbers (not <c>"60"</c>). Stored records are read without
    /// these, so that a field a later version drops does not make old rows unreadable.
    /// </summary>
    public static void ConfigureForRequests(JsonSerializerOptions options)
    {
        Configure(options);
        options.PropertyNameCaseInsensitive = false;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.AllowDuplicateProperties = false;
        options.NumberHandling = JsonNumberHandling.Strict;
    }

    public static IServiceCollection AddApiJson(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(options => ConfigureForRequests(options.SerializerOptions));
        // Swashbuckle describes schemas with the MVC options; keep both identical.
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(options => ConfigureForRequests(options.JsonSerializerOptions));
        // Validation errors name fields as the JSON does: `errors.ttlSeconds`, "'ttlSeconds' must be …".
        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) => member is null ? null : NameOf(member);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => member is null ? null : NameOf(member);
        return services;
    }

    /// <summary>A member's name in the JSON: its <see cref="JsonPropertyNameAttribute"/>, else camelCase.</summary>
    public static string NameOf(MemberInfo member) =>
        member.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(member.Name);
}
