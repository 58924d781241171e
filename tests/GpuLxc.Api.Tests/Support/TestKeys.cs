namespace GpuLxc.Api.Tests.Support;

/// <summary>The keys <see cref="GpuLxcApiFactory"/> configures, one per scope combination the tests need.</summary>
public static class TestKeys
{
    public const string Admin = "test-admin-key-0123456789";
    public const string Read = "test-read-key-0123456789";
    public const string Sessions = "test-sessions-key-0123456789";
    public const string ReadAndSessions = "test-read-sessions-key-0123456789";

    public static IReadOnlyDictionary<string, (string Key, string Scopes)> ByName { get; } =
        new Dictionary<string, (string, string)>
        {
            ["admin"] = (Admin, "admin"),
            ["reader"] = (Read, "read"),
            ["transcoder"] = (Sessions, "sessions"),
            ["dashboard"] = (ReadAndSessions, "read, sessions"),
        };
}
