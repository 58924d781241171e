using GpuLxc.Api.Auth;

namespace GpuLxc.Api.Tests.Auth;

public sealed class ApiKeyOptionsValidatorFacts
{
    private readonly ApiKeyOptionsValidator _validator = new();

    [Fact]
    public void Validate_Succeeds_WhenNoKeyIsConfigured()
    {
        Assert.True(_validator.Validate(null, new ApiKeyOptions()).Succeeded);
    }

    [Fact]
    public void Validate_Succeeds_WhenEveryKeyIsWellFormed()
    {
        var result = _validator.Validate(null, Options(("ha", " home-assistant-key-123456 ", "read, sessions"), ("ops", "operator-key-1234567890", "admin")));

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("short", "read", "at least 16")]
    [InlineData("a key with spaces inside", "read", "at least 16")]
    [InlineData("long-enough-key-123456", "", "Scopes must list")]
    [InlineData("long-enough-key-123456", "read,root", "unknown: root")]
    public void Validate_FailsNamingTheSetting_WhenAKeyOrItsScopesAreInvalid(string key, string scopes, string expected)
    {
        var result = _validator.Validate(null, Options(("ha", key, scopes)));

        Assert.True(result.Failed);
        Assert.Contains("GpuLxc:Auth:ApiKeys:ha", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Fails_WhenTwoNamesShareOneKey()
    {
        var result = _validator.Validate(null, Options(("a", "shared-key-1234567890", "read"), ("b", "shared-key-1234567890", "admin")));

        Assert.True(result.Failed);
        Assert.Contains("GpuLxc:Auth:ApiKeys:b:Key is the same as another", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FailsNamingTheSetting_WhenTheKeyNameIsNotAPlainName()
    {
        var result = _validator.Validate(null, Options(("home assistant", "home-assistant-key-123456", "read")));

        Assert.True(result.Failed);
        Assert.Contains("GpuLxc:Auth:ApiKeys:home assistant: the name must match", result.FailureMessage, StringComparison.Ordinal);
    }

    private static ApiKeyOptions Options(params (string Name, string Key, string Scopes)[] keys)
    {
        var options = new ApiKeyOptions();
        foreach (var (name, key, scopes) in keys)
        {
            options.ApiKeys[name] = new ApiKeyEntry { Key = key, Scopes = scopes };
        }

        return options;
    }
}
