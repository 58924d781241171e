namespace GpuLxc.Api.Auth;

/// <summary>Bound from <c>GpuLxc:Auth</c>: <c>GpuLxc__Auth__ApiKeys__&lt;name&gt;__Key</c> and <c>…__Scopes</c>.</summary>
public sealed class ApiKeyOptions
{
    public const string Section = "GpuLxc:Auth";

    public Dictionary<string, ApiKeyEntry> ApiKeys { get; init; } = new(StringComparer.Ordinal);
}

public sealed class ApiKeyEntry
{
    public string? Key { get; set; }

    /// <summary>Comma-separated: <c>read</c>, <c>sessions</c>, <c>admin</c>.</summary>
    public string? Scopes { get; set; }
}
