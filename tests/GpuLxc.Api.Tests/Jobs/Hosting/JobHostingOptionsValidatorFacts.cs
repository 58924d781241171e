using GpuLxc.Api.Jobs.Hosting;

namespace GpuLxc.Api.Tests.Jobs.Hosting;

public sealed class JobHostingOptionsValidatorFacts
{
    private readonly JobHostingOptionsValidator _validator = new();

    [Fact]
    public void Validate_Succeeds_WhenEverySettingIsLeftAtItsDefault()
    {
        var options = Normalized(new JobHostingOptions { Node = "pve1" });

        Assert.True(_validator.Validate(null, options).Succeeded);
    }

    [Fact]
    public void Normalize_LowersTheStorageAndRestoresDefaults_WhenSettingsAreBlankOrPadded()
    {
        var options = Normalized(new JobHostingOptions { Storage = " PostgreS ", Schema = " ", Node = " pve-alpha " });

        Assert.Equal(("postgres", "hangfire", "pve-alpha"), (options.Storage, options.Schema, options.Node));
    }

    [Theory]
    [InlineData("mysql", null, "GpuLxc:Jobs:Storage is 'mysql': use 'sqlite' (default) or 'postgres'.")]
    [InlineData("", null, "GpuLxc:Jobs:Storage is '': use 'sqlite' (default) or 'postgres'.")]
    [InlineData("postgres", null, "GpuLxc:Jobs:Storage is 'postgres' but GpuLxc:Jobs:ConnectionString is not set.")]
    [InlineData("postgres", " ", "GpuLxc:Jobs:Storage is 'postgres' but GpuLxc:Jobs:ConnectionString is not set.")]
    public void Validate_FailsNamingTheSetting_WhenTheStorageIsUnknownOrLacksItsConnection(string storage, string? connectionString, string expected)
    {
        var result = _validator.Validate(null, Normalized(new JobHostingOptions { Storage = storage, ConnectionString = connectionString, Node = "pve1" }));

        Assert.True(result.Failed);
        Assert.Contains(expected, result.Failures!);
    }

    [Theory]
    [InlineData("Hangfire")]
    [InlineData("jobs-schema")]
    [InlineData("1jobs")]
    public void Validate_FailsNamingTheSetting_WhenTheSchemaIsNotAPlainLowerCaseName(string schema)
    {
        var result = _validator.Validate(null, Normalized(new JobHostingOptions { Schema = schema, Node = "pve1" }));

        Assert.True(result.Failed);
        Assert.Contains($"GpuLxc:Jobs:Schema is '{schema}': use lower-case letters", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pve 1")]
    [InlineData("-pve1")]
    [InlineData("node/1")]
    public void Validate_FailsNamingTheSetting_WhenTheNodeIsNotAHostName(string node)
    {
        var result = _validator.Validate(null, Normalized(new JobHostingOptions { Node = node }));

        Assert.True(result.Failed);
        Assert.Contains($"GpuLxc:Jobs:Node is '{node}': use a host name", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public void Validate_FailsNamingTheSetting_WhenWorkersAreOutsideOneToSixtyFour(int workers)
    {
        var result = _validator.Validate(null, Normalized(new JobHostingOptions { Workers = workers, Node = "pve1" }));

        Assert.True(result.Failed);
        Assert.Contains($"GpuLxc:Jobs:Workers is {workers}: use 1 to 64.", result.Failures!);
    }

    private static JobHostingOptions Normalized(JobHostingOptions options)
    {
        options.Normalize();
        return options;
    }
}
