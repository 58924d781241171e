using GpuLxc.Api.Auth;
using GpuLxc.Api.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.Auth;

public sealed class ApiKeyStoreFacts : IDisposable
{
    private readonly DataDirectory _dataDirectory = new(Directory.CreateTempSubdirectory("gpulxc-keys-").FullName);

    public void Dispose()
    {
        _dataDirectory.Dispose();
        Directory.Delete(_dataDirectory.Path, recursive: true);
    }

    [Fact]
    public void Find_ReturnsTheNamedIdentityAndScopes_WhenTheKeyIsConfigured()
    {
        var store = Create(("ha", "home-assistant-key-123456", "read, sessions"), ("ops", "operator-key-1234567890", "admin"));

        var identity = store.Find("home-assistant-key-123456");

        Assert.NotNull(identity);
        Assert.Equal("ha", identity.Name);
        Assert.Equal(["read", "sessions"], identity.Scopes.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("home-assistant-key-12345")]
    [InlineData("home-assistant-key-1234567")]
    [InlineData("")]
    [InlineData("HOME-ASSISTANT-KEY-123456")]
    public void Find_ReturnsNull_WhenTheKeyDiffersInAnyWay(string presented)
    {
        var store = Create(("ha", "home-assistant-key-123456", "read"));

        Assert.Null(store.Find(presented));
    }

    [Fact]
    public void Constructor_DoesNotGenerateAKey_WhenKeysAreConfigured()
    {
        Create(("ha", "home-assistant-key-123456", "read"));

        Assert.False(File.Exists(_dataDirectory.File(ApiKeyStore.GeneratedKeyFileName)));
    }

    [Fact]
    public void Constructor_GeneratesAnOwnerOnlyAdminKey_WhenNoneIsConfigured()
    {
        var store = Create();

        var path = _dataDirectory.File(ApiKeyStore.GeneratedKeyFileName);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var key = File.ReadAllText(path).Trim();
        Assert.StartsWith("glx_", key, StringComparison.Ordinal);
        Assert.True(key.Length >= 40);
        Assert.Equal([Scopes.Admin], store.Find(key)!.Scopes);
    }

    [Fact]
    public void Constructor_ReusesTheGeneratedKeyAcrossRestarts()
    {
        Create();
        var key = File.ReadAllText(_dataDirectory.File(ApiKeyStore.GeneratedKeyFileName)).Trim();

        var restarted = Create();

        Assert.NotNull(restarted.Find(key));
    }

    [Fact]
    public async Task Constructor_AgreesOnOneGeneratedKey_WhenInstancesStartTogether()
    {
        var stores = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Create())));

        var key = File.ReadAllText(_dataDirectory.File(ApiKeyStore.GeneratedKeyFileName)).Trim();
        Assert.All(stores, store => Assert.NotNull(store.Find(key)));
        Assert.Single(Directory.GetFiles(_dataDirectory.Path), file => Path.GetFileName(file) != DataDirectory.LockFileName);
    }

    [Fact]
    public void Constructor_TightensTheModeOfAGeneratedKeyFileOthersCouldRead()
    {
        var path = _dataDirectory.File(ApiKeyStore.GeneratedKeyFileName);
        File.WriteAllText(path, "glx_existing-key-0123456789\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var store = Create();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.NotNull(store.Find("glx_existing-key-0123456789"));
    }

    private ApiKeyStore Create(params (string Name, string Key, string Scopes)[] keys)
    {
        var options = new ApiKeyOptions();
        foreach (var (name, key, scopes) in keys)
        {
            options.ApiKeys[name] = new ApiKeyEntry { Key = key, Scopes = scopes };
        }

        return new ApiKeyStore(Options.Create(options), _dataDirectory, NullLogger<ApiKeyStore>.Instance);
    }
}
