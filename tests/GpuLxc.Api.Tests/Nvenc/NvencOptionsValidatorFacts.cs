using GpuLxc.Api.Nvenc;

namespace GpuLxc.Api.Tests.Nvenc;

public sealed class NvencOptionsValidatorFacts
{
    private readonly NvencOptionsValidator _validator = new();

    [Fact]
    public void Validate_Succeeds_WhenEverySettingIsLeftAtItsDefault()
    {
        Assert.True(_validator.Validate(null, new NvencOptions()).Succeeded);
    }

    [Theory]
    [InlineData("host", false)]
    [InlineData("gpu", true)]
    [InlineData("GPU", true)]
    [InlineData(" gpu ", true)]
    public void Validate_AcceptsTheScope_WhenItIsHostOrGpuInAnyCase(string scope, bool perGpu)
    {
        var options = new NvencOptions { Scope = scope };

        Assert.True(_validator.Validate(null, options).Succeeded);
        Assert.Equal(perGpu, options.PerGpu);
    }

    [Theory]
    [InlineData("gpus")]
    [InlineData("")]
    [InlineData("per-gpu")]
    public void Validate_FailsNamingTheSettingAndTheAllowedValues_WhenTheScopeIsNeitherHostNorGpu(string scope)
    {
        var result = _validator.Validate(null, new NvencOptions { Scope = scope });

        Assert.True(result.Failed);
        Assert.Contains($"GpuLxc:Nvenc:Scope is '{scope}': use 'host' (default) or 'gpu'.", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(86_401)]
    [InlineData(-60)]
    public void Validate_FailsNamingTheSetting_WhenTheDefaultTtlIsOutsideWhatARequestMayAsk(int seconds)
    {
        var result = _validator.Validate(null, new NvencOptions { DefaultTtlSeconds = seconds });

        Assert.True(result.Failed);
        Assert.Contains($"GpuLxc:Nvenc:DefaultTtlSeconds is {seconds}: use 5 to 86400", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(86_400)]
    public void Validate_Succeeds_WhenTheDefaultTtlIsAtAnEndOfTheRange(int seconds)
    {
        Assert.True(_validator.Validate(null, new NvencOptions { DefaultTtlSeconds = seconds }).Succeeded);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Validate_FailsNamingTheSetting_WhenTheLimitOverrideIsBelowOne(int limit)
    {
        var result = _validator.Validate(null, new NvencOptions { LimitOverride = limit });

        Assert.True(result.Failed);
        Assert.Contains($"GpuLxc:Nvenc:LimitOverride is {limit}: use 1 or more", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FailsNamingEachContainer_WhenQuotasAreBelowOne()
    {
        var options = new NvencOptions { Quotas = { ["101"] = 0, ["102"] = 2, ["jellyfin"] = -1 } };

        var result = _validator.Validate(null, options);

        Assert.True(result.Failed);
        Assert.Equal(
            ["GpuLxc:Nvenc:Quotas:101 is 0: use 1 or more, or remove it for no per-container cap.",
             "GpuLxc:Nvenc:Quotas:jellyfin is -1: use 1 or more, or remove it for no per-container cap."],
            result.Failures!);
    }
}
