using System.Reflection;
using GpuLxc.Api.Auth;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace GpuLxc.Api.Infrastructure;

/// <summary>The OpenAPI document at <c>/openapi/v1.json</c> (checked in as <c>openapi/gpulxc-v1.json</c>) and Swagger UI.</summary>
public static class ApiDocumentation
{
    public const string DocumentName = "v1";
    public const string DocumentPath = "/openapi/v1.json";

    private const string BearerScheme = "bearer";
    private const string HeaderScheme = "apiKey";

    public static IServiceCollection AddApiDocumentation(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc(DocumentName, new OpenApiInfo
            {
                Title = "GpuLxc",
                Version = "v1",
                Description = "Share NVIDIA GPUs with LXC containers: host inventory, diagnostics, driver jobs, " +
                              "container attachments and the NVENC session guard. Every /api route needs an API key.\n\n" + ErrorsDescription,
            });
            options.AddSecurityDefinition(BearerScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key sent as `Authorization: Bearer <key>`.",
            });
            options.AddSecurityDefinition(HeaderScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyAuthenticationHandler.HeaderName,
                Description = $"An API key sent as `{ApiKeyAuthenticationHandler.HeaderName}: <key>`.",
            });
            options.OperationFilter<ScopeOperationFilter>();
            options.OperationFilter<QueryValuesOperationFilter>();
            options.SchemaFilter<OptionalParameterSchemaFilter>();
            options.SupportNonNullableReferenceTypes();
            options.NonNullableReferenceTypesAsRequired();
            // Lets a nullable property that refers to a schema say so (allOf + nullable in OpenAPI 3.0).
            options.UseAllOfToExtendReferenceSchemas();
            options.IncludeXmlComments(Assembly.GetExecutingAssembly());
        });
        return services;
    }

    /// <summary>
    /// What every error looks like, and the statuses any request can be answered with besides those its operation
    /// declares (<see cref="RequestProblems.AnyOperation"/>): said once here, as no single operation owns them.
    /// </summary>
    private static string ErrorsDescription =>
        "Errors are RFC 9457 `application/problem+json`: `type` (a URI to switch on; GpuLxc's own are `urn:gpulxc:problem:…`), `title`, `status`, " +
        "`detail`, `instance`, `traceId`, `fix` where there is one, and `errors` (by field or JSON path) on every 400. Each operation " +
        "lists the statuses it answers; any request may also be answered " +
        string.Join("; ", RequestProblems.AnyOperation.Select(status => $"{status.Key} for {status.Value}")) + ".";

    public static WebApplication UseApiDocumentation(this WebApplication app)
    {
        app.UseSwagger(options => options.RouteTemplate = "openapi/{documentName}.json");
        app.UseSwaggerUI(options =>
        {
            options.RoutePrefix = "swagger";
            options.DocumentTitle = "GpuLxc API";
            options.SwaggerEndpoint(DocumentPath, "GpuLxc v1");
        });
        return app;
    }

    /// <summary>
    /// A record parameter with a default value is optional in JSON: it is not <c>required</c>, and its default is
    /// documented, so that generated clients send what the server would assume.
    /// </summary>
    private sealed class OptionalParameterSchemaFilter : ISchemaFilter
    {
        public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
        {
            if (schema is not OpenApiSchema concrete || concrete.Properties is null)
            {
                return;
            }

            var parameters = context.Type.GetConstructors().SelectMany(c => c.GetParameters()).Where(p => p.HasDefaultValue && p.Name is not null);
            foreach (var parameter in parameters)
            {
                var name = System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(parameter.Name!);
                concrete.Required?.Remove(name);
                if (parameter.DefaultValue is not null && concrete.Properties.TryGetValue(name, out var property) && property is OpenApiSchema target)
                {
                    target.Default = System.Text.Json.Nodes.JsonValue.Create(parameter.DefaultValue is Enum value
                        ? System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(value.ToString())
                        : parameter.DefaultValue);
                }
            }
        }
    }

    /// <summary>
    /// Declares that a string query parameter takes the values of an enum schema (<c>?state=failed</c>), so that
    /// generated clients take the enum rather than a string. The handler still parses the text itself: an unknown value
    /// is its 400, worded for the field, not the framework's binding error.
    /// </summary>
    /// <param name="Name">The query parameter's name as the contract spells it.</param>
    /// <param name="Enum">The enum whose schema (camelCase names) the parameter refers to.</param>
    public sealed record QueryValues(string Name, Type Enum);

    private sealed class QueryValuesOperationFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            foreach (var declared in context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<QueryValues>())
            {
                if (operation.Parameters?.OfType<OpenApiParameter>().FirstOrDefault(p => p.In == ParameterLocation.Query && p.Name == declared.Name) is { } parameter)
                {
                    parameter.Schema = context.SchemaGenerator.GenerateSchema(declared.Enum, context.SchemaRepository);
                }
            }
        }
    }

    /// <summary>States on each operation which keys it accepts and the scope it needs.</summary>
    private sealed class ScopeOperationFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var scope = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<RequiredScope>().LastOrDefault();
            if (scope is null)
            {
                return;
            }

            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(HeaderScheme, context.Document)] = [] },
            ];
            var requirement = $"Requires an API key with the `{scope.Scope}` scope" +
                              (scope.Scope == Scopes.Admin ? "." : " (or `admin`).");
            operation.Description = string.IsNullOrEmpty(operation.Description)
                ? requirement
                : $"{operation.Description}\n\n{requirement}";
        }
    }
}
