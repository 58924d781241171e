using System.Security.Claims;

namespace GpuLxc.Api.Auth;

/// <summary>
/// Who is calling: the API key's name and scopes, read once per request from the principal that the API key handler
/// built. Scoped; handlers take it as a parameter instead of reading claims (the TodoApi <c>CurrentUser</c> idea).
/// </summary>
/// <param name="KeyName">The key's name (<c>GpuLxc:Auth:ApiKeys:&lt;name&gt;</c>, or <c>generated</c>): it goes into audit
/// records and owns leases. Null without a key, which only routes outside <c>/api</c> allow.</param>
/// <param name="Scopes">The key's scopes: <c>read</c>, <c>sessions</c>, <c>admin</c>.</param>
public sealed record Caller(string? KeyName, IReadOnlySet<string> Scopes)
{
    /// <summary>An admin key may do anything, including renewing or releasing another key's lease.</summary>
    public bool IsAdmin => Scopes.Contains(Auth.Scopes.Admin);

    public static Caller From(ClaimsPrincipal? principal) => new(
        principal?.Identity?.Name,
        principal?.FindAll(Auth.Scopes.ClaimType).Select(claim => claim.Value).ToHashSet(StringComparer.Ordinal) ?? []);
}
