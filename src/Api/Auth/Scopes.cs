namespace GpuLxc.Api.Auth;

/// <summary>API key scopes (design §7). <c>admin</c> implies the other two.</summary>
public static class Scopes
{
    public const string Read = "read";
    public const string Sessions = "sessions";
    public const string Admin = "admin";

    public const string ClaimType = "scope";

    public static IReadOnlyList<string> All { get; } = [Read, Sessions, Admin];

    public static string PolicyName(string scope) => $"scope:{scope}";
}

/// <summary>The scope an <c>/api</c> endpoint needs; without it, GET needs <c>read</c> and everything else <c>admin</c>.</summary>
public sealed record RequiredScope(string Scope);
