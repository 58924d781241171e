using GpuLxc.Api.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Tests.Infrastructure;

public sealed class StartupFailureFacts
{
    private const string DataDir = "/var/lib/gpulxc";

    [Fact]
    public void Explain_GivesEveryFailureOnOneLine_WhenSeveralOptionsClassesFail()
    {
        var failed = new AggregateException(
            new OptionsValidationException("", typeof(object), ["GpuLxc:Host:Backend is 'bogus'."]),
            new OptionsValidationException("", typeof(object), ["GpuLxc:Nvenc:Scope is 'rack'."]));

        var (exitCode, message) = StartupFailure.Explain(failed, DataDir)!.Value;

        Assert.Equal(StartupFailure.ConfigurationExitCode, exitCode);
        Assert.Equal("Invalid configuration: GpuLxc:Host:Backend is 'bogus'. GpuLxc:Nvenc:Scope is 'rack'.", message);
    }

    [Fact]
    public void Explain_IsAConfigurationErrorOnOneLine_WhenTheBinderCannotConvertASetting()
    {
        var failed = new InvalidOperationException("Failed to convert configuration value 'abc' at 'GpuLxc:Jobs:Workers' to type 'System.Int32'.",
            new FormatException("abc is not a valid value for Int32."));

        var (exitCode, message) = StartupFailure.Explain(failed, DataDir)!.Value;

        Assert.Equal(StartupFailure.ConfigurationExitCode, exitCode);
        Assert.Equal("Invalid configuration: GpuLxc:Jobs:Workers is 'abc', which is not a whole number.", message);
    }

    [Fact]
    public void Explain_SaysOutOfRange_WhenAWholeNumberIsTooLargeForTheSetting()
    {
        var failed = new InvalidOperationException("Failed to convert configuration value '99999999999' at 'GpuLxc:Jobs:Workers' to type 'System.Int32'.",
            new OverflowException("Value was either too large or too small for an Int32."));

        var (exitCode, message) = StartupFailure.Explain(failed, DataDir)!.Value;

        Assert.Equal(StartupFailure.ConfigurationExitCode, exitCode);
        Assert.Equal("Invalid configuration: GpuLxc:Jobs:Workers is '99999999999', which is out of range (a whole number from -2147483648 to 2147483647).", message);
    }

    [Fact]
    public void Explain_NamesKestrelsAddress_WhenTheAddressIsInUse()
    {
        var failed = new IOException("Failed to bind to address http://[::1]:5080: address already in use.", new AddressInUseException("Address already in use"));

        var (exitCode, message) = StartupFailure.Explain(failed, DataDir)!.Value;

        Assert.Equal(StartupFailure.AddressInUseExitCode, exitCode);
        Assert.Equal("Cannot listen on http://[::1]:5080: the address is in use (another GpuLxc?)", message);
    }

    [Fact]
    public void Explain_NamesTheDataDir_WhenAPathInItCannotBeCreated()
    {
        var failed = new UnauthorizedAccessException($"Access to the path '{DataDir}/backups' is denied.");

        var (exitCode, message) = StartupFailure.Explain(failed, DataDir)!.Value;

        Assert.Equal(StartupFailure.ConfigurationExitCode, exitCode);
        Assert.StartsWith($"Cannot use the data directory {DataDir} (GpuLxc:DataDir): Access", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_HasNoSentence_ForAFileOutsideTheDataDir()
    {
        Assert.Null(StartupFailure.Explain(new IOException("Could not find file '/etc/pve/lxc/101.conf'."), DataDir));
    }

    [Fact]
    public void Explain_HasNoSentence_WhenOnlySomeOfSeveralFailuresAreSettings()
    {
        var failed = new AggregateException(new OptionsValidationException("", typeof(object), ["bad"]), new InvalidOperationException("bug"));

        Assert.Null(StartupFailure.Explain(failed, DataDir));
    }
}
