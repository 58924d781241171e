using System.Reflection;
using Microsoft.AspNetCore.Mvc;

namespace GpuLxc.Api.Infrastructure;

/// <summary>
/// Refuses, with 400 before the handler runs, a query parameter the operation does not take: ASP.NET Core ignores
/// unknown ones, so a mistyped <c>?dry-run=true</c> on <c>DELETE …/gpu</c> would detach for real. The names an
/// operation takes are read once per route from its handler's parameters — the same ones the contract declares.
/// Names compare case-insensitively, as binding does.
/// </summary>
public static class UnknownQueryParameters
{
    /// <summary>What <see cref="RequestProblems.AnyOperation"/> says of this 400.</summary>
    public const string When = "a query parameter the operation does not take (a typo must not turn a `dryRun` into a real change)";

    public static RouteGroupBuilder RefuseUnknownQueryParameters(this RouteGroupBuilder group)
    {
        group.AddEndpointFilterFactory((factory, next) =>
        {
            var known = factory.MethodInfo.GetParameters().SelectMany(QueryNames).ToHashSet(StringComparer.OrdinalIgnoreCase);
            return context =>
            {
                var unknown = context.HttpContext.Request.Query.Keys.Where(key => !known.Contains(key)).Order(StringComparer.Ordinal).ToList();
                if (unknown.Count > 0)
                {
                    var takes = known.Count == 0 ? "This operation takes no query parameters." : $"This operation takes: {string.Join(", ", known.Order(StringComparer.Ordinal))}.";
                    var problem = new ProblemException(RequestProblems.Invalid, $"Unknown query parameter(s): {string.Join(", ", unknown)}. {takes}");
                    foreach (var key in unknown)
                    {
                        problem.Errors[key] = [$"{key} is not a query parameter of this operation. {takes}"];
                    }

                    throw problem;
                }

                return next(context);
            };
        });
        return group;
    }

    private static IEnumerable<string> QueryNames(ParameterInfo parameter)
    {
        if (parameter.GetCustomAttribute<FromQueryAttribute>() is { } query)
        {
            return [query.Name ?? parameter.Name!];
        }

        if (parameter.GetCustomAttribute<AsParametersAttribute>() is not null)
        {
            var constructor = parameter.ParameterType.GetConstructors().MaxBy(c => c.GetParameters().Length);
            return (constructor?.GetParameters() ?? []).SelectMany(QueryNames)
                .Concat(parameter.ParameterType.GetProperties().Select(p => p.GetCustomAttribute<FromQueryAttribute>() is { } q ? q.Name ?? p.Name : null).OfType<string>());
        }

        // Without an attribute, a simple value not in the route binds from the query (a name in the route, too, is harmless here).
        var bound = parameter.GetCustomAttributes().Any(a => a is FromRouteAttribute or FromBodyAttribute or FromHeaderAttribute or FromServicesAttribute);
        return !bound && IsSimple(parameter.ParameterType) ? [parameter.Name!] : [];
    }

    private static bool IsSimple(Type type)
    {
        var value = Nullable.GetUnderlyingType(type) ?? type;
        return value.IsPrimitive || value.IsEnum || value == typeof(string) || value == typeof(decimal) || value == typeof(DateTimeOffset) || value == typeof(Guid);
    }
}
