using GpuLxc.Api.Events;

namespace GpuLxc.Api.Tests.Events;

public sealed class WebhookOptionsValidatorFacts
{
    private readonly WebhookOptionsValidator _validator = new();

    [Fact]
    public void Validate_Succeeds_WhenUrlSecretAndTypesAreGood()
    {
        var result = _validator.Validate(null, Options("ha", "https://ha.local:8123/api/webhook/gpulxc", "0123456789abcdef", "driver.changed, host.rebootNeeded"));

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("/api/webhook/gpulxc", "GpuLxc:Webhooks:ha:Url must be an absolute http or https URL.")]
    [InlineData("ftp://ha.local/hook", "GpuLxc:Webhooks:ha:Url must be an absolute http or https URL.")]
    [InlineData(null, "GpuLxc:Webhooks:ha:Url must be an absolute http or https URL.")]
    public void Validate_FailsNamingTheSetting_WhenTheUrlIsNotAbsoluteHttp(string? url, string message)
    {
        var result = _validator.Validate(null, Options("ha", url, "0123456789abcdef", null));

        Assert.False(result.Succeeded);
        Assert.Contains(message, result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0123456789abcde")]
    public void Validate_FailsNamingTheSetting_WhenTheSecretIsMissingOrShorterThan16Bytes(string? secret)
    {
        var result = _validator.Validate(null, Options("ha", "http://127.0.0.1:9000/hook", secret, null));

        Assert.False(result.Succeeded);
        Assert.Contains("GpuLxc:Webhooks:ha:Secret is required: at least 16 bytes", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FailsNamingTheType_WhenTypesListsAnUnknownOne()
    {
        var result = _validator.Validate(null, Options("ha", "http://127.0.0.1:9000/hook", "0123456789abcdef", "driver.changed,driver.exploded"));

        Assert.False(result.Succeeded);
        Assert.Contains("GpuLxc:Webhooks:ha:Types lists unknown event types (driver.exploded)", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AServiceWithABadWebhookDoesNotStart()
    {
        using var factory = new Support.GpuLxcApiFactory();
        factory.Settings["GpuLxc:Webhooks:ha:Url"] = "not a url";
        factory.Settings["GpuLxc:Webhooks:ha:Secret"] = "short";

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => Task.Run(() => factory.Services));

        Assert.Contains("GpuLxc:Webhooks:ha:Url", refused.ToString(), StringComparison.Ordinal);
        Assert.Contains("GpuLxc:Webhooks:ha:Secret", refused.ToString(), StringComparison.Ordinal);
    }

    private static WebhookOptions Options(string name, string? url, string? secret, string? types) => new()
    {
        Webhooks = { [name] = new WebhookEntry { Url = url, Secret = secret, Types = types } },
    };
}
