using System.Text.RegularExpressions;
using FluentValidation;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Drivers;

public enum HostInstallMethod
{
    /// <summary>Debian's packages: the one <c>nvidia-detect</c> recommends, or <c>package</c>.</summary>
    Package,

    /// <summary>NVIDIA's <c>.run</c> installer at a host path, run with <c>--dkms --silent</c>.</summary>
    RunInstaller,
}

public enum GuestInstallMethod
{
    /// <summary><c>apt</c> in Debian and Ubuntu containers, else the <c>.run</c> installer the host install used.</summary>
    Auto,

    /// <summary>Packages of exactly the host's version, then held.</summary>
    Apt,

    /// <summary>The host version's <c>.run</c> installer, copied in and run with <c>--no-kernel-modules --silent</c>.</summary>
    RunInstaller,
}

/// <summary>How to install the host driver.</summary>
/// <param name="Method"><c>package</c> (default) or <c>runInstaller</c>.</param>
/// <param name="Package">Package method: the driver package to install instead of the one <c>nvidia-detect</c> recommends (e.g. <c>nvidia-tesla-535-driver</c>).</param>
/// <param name="Version">The exact driver version wanted (e.g. <c>550.127.05</c>): the package is pinned to it, or the installer's file name must carry it.</param>
/// <param name="RunInstaller">RunInstaller method: the absolute host path of <c>NVIDIA-Linux-…-VERSION.run</c>.</param>
public sealed record HostDriverInstallRequest(HostInstallMethod Method = HostInstallMethod.Package, string? Package = null, string? Version = null, string? RunInstaller = null);

public enum GuestInstallProfile
{
    /// <summary>The userspace driver only.</summary>
    Plain,

    /// <summary>
    /// The driver, then what Docker inside needs to run GPU containers: the container's features (Proxmox), the NVIDIA
    /// container toolkit from apt, its runtime registered with Docker (<c>no-cgroups = true</c>) and a CDI spec.
    /// </summary>
    Docker,
}

/// <summary>How to install a container's userspace driver; the version is always the host's loaded module's.</summary>
/// <param name="Method"><c>auto</c> (default), <c>apt</c> or <c>runInstaller</c>.</param>
/// <param name="RunInstaller">The host path of the host version's <c>.run</c> installer; default: the one the last host install used.</param>
/// <param name="Profile"><c>plain</c> (default): the driver only; <c>docker</c>: the driver (or, attached with <c>userspace: host</c>,
/// the host's files bound in), then the container features Docker needs and the NVIDIA container toolkit configured for Docker.</param>
/// <param name="Restart">Docker profile: restart the container when its features changed and it runs (they apply only
/// from its next start); default false, and the job's result says <c>restartRequired</c>.</param>
public sealed record GuestDriverInstallRequest(
    GuestInstallMethod Method = GuestInstallMethod.Auto, string? RunInstaller = null, GuestInstallProfile Profile = GuestInstallProfile.Plain, bool Restart = false);

/// <summary>How a re-sync reinstalls mismatched containers.</summary>
/// <param name="Method">As for a guest install; <c>auto</c> reuses each container's last method.</param>
/// <param name="RunInstaller">The host version's <c>.run</c> installer, for containers installed that way.</param>
public sealed record DriverResyncRequest(GuestInstallMethod Method = GuestInstallMethod.Auto, string? RunInstaller = null);

/// <summary>
/// What request fields may hold. Everything that reaches a command or a path is checked against these before any
/// command runs: no shell metacharacter, whitespace or <c>..</c> gets through.
/// </summary>
public static partial class DriverInputs
{
    public const string VersionRule = "a driver version such as 550.120 or 580.159.04";
    public const string PackageRule = "a Debian package name: lower-case letters, digits, '+', '-' and '.', starting with a letter or digit";
    public const string RunInstallerRule = "an absolute host path of a .run file: '/'-separated names of letters, digits, '.', '_', '+' and '-', no '..'";

    public static bool IsVersion(string? value) => value is not null && VersionPattern().IsMatch(value);

    public static bool IsPackage(string? value) => value is not null && PackagePattern().IsMatch(value);

    public static bool IsRunInstallerPath(string? value) =>
        value is not null && RunPathPattern().IsMatch(value) && !value.Split('/').Any(segment => segment is "." or "..");

    /// <summary>The version in an installer's file name: <c>NVIDIA-Linux-x86_64-550.127.05.run</c> → <c>550.127.05</c>.</summary>
    public static string? VersionOfInstaller(string path)
    {
        var match = InstallerNamePattern().Match(Path.GetFileName(path));
        return match.Success ? match.Groups["version"].Value : null;
    }

    [GeneratedRegex(@"^[0-9]{2,4}\.[0-9]{1,4}(\.[0-9]{1,4})?\z")]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9+.-]{1,99}\z")]
    private static partial Regex PackagePattern();

    [GeneratedRegex(@"^(/[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,254}){1,32}\.run\z")]
    private static partial Regex RunPathPattern();

    [GeneratedRegex(@"-(?<version>[0-9]{2,4}\.[0-9]{1,4}(\.[0-9]{1,4})?)(-[A-Za-z0-9_]+)?\.run$")]
    private static partial Regex InstallerNamePattern();
}

internal static class RunInstallerRules
{
    /// <summary>A well-formed path to a file that exists under the host root.</summary>
    public static IRuleBuilderOptions<T, string?> MustBeRunInstaller<T>(this IRuleBuilder<T, string?> rule, IHostFileSystem files) =>
        rule.Must(path => DriverInputs.IsRunInstallerPath(path)).WithMessage($"runInstaller must be {DriverInputs.RunInstallerRule}.")
            .Must(path => files.FileExists(path!)).WithMessage(r => "runInstaller does not exist on the host.");
}

internal sealed class HostDriverInstallRequestValidator : AbstractValidator<HostDriverInstallRequest>
{
    public HostDriverInstallRequestValidator(IHostFileSystem files)
    {
        RuleFor(r => r.Method).IsInEnum();
        RuleFor(r => r.Package).Must(DriverInputs.IsPackage).When(r => r.Package is not null).WithMessage($"package must be {DriverInputs.PackageRule}.");
        RuleFor(r => r.Package).Null().When(r => r.Method == HostInstallMethod.RunInstaller).WithMessage("package applies to the package method only.");
        RuleFor(r => r.Version).Must(DriverInputs.IsVersion).When(r => r.Version is not null).WithMessage($"version must be {DriverInputs.VersionRule}.");
        RuleFor(r => r.RunInstaller).NotNull().When(r => r.Method == HostInstallMethod.RunInstaller).WithMessage("runInstaller is required for the runInstaller method.");
        RuleFor(r => r.RunInstaller).Null().When(r => r.Method == HostInstallMethod.Package).WithMessage("runInstaller applies to the runInstaller method only.");
        RuleFor(r => r.RunInstaller).Cascade(CascadeMode.Stop).MustBeRunInstaller(files).When(r => r.RunInstaller is not null);
        RuleFor(r => r.RunInstaller).Must((r, path) => DriverInputs.VersionOfInstaller(path!) == r.Version)
            .When(r => r.Version is not null && DriverInputs.IsRunInstallerPath(r.RunInstaller) && DriverInputs.VersionOfInstaller(r.RunInstaller!) is not null)
            .WithMessage(r => $"runInstaller is the installer of {DriverInputs.VersionOfInstaller(r.RunInstaller!)}, not of version {r.Version}.");
    }
}

internal sealed class GuestDriverInstallRequestValidator : AbstractValidator<GuestDriverInstallRequest>
{
    public GuestDriverInstallRequestValidator(IHostFileSystem files)
    {
        RuleFor(r => r.Method).IsInEnum();
        RuleFor(r => r.RunInstaller).Null().When(r => r.Method == GuestInstallMethod.Apt).WithMessage("runInstaller does not apply to the apt method.");
        RuleFor(r => r.RunInstaller).Cascade(CascadeMode.Stop).MustBeRunInstaller(files).When(r => r.RunInstaller is not null);
        RuleFor(r => r.Profile).IsInEnum();
        RuleFor(r => r.Restart).Equal(false).When(r => r.Profile == GuestInstallProfile.Plain).WithMessage("restart applies to the docker profile only: the plain profile changes no container setting.");
    }
}

internal sealed class DriverResyncRequestValidator : AbstractValidator<DriverResyncRequest>
{
    public DriverResyncRequestValidator(IHostFileSystem files)
    {
        RuleFor(r => r.Method).IsInEnum();
        RuleFor(r => r.RunInstaller).Null().When(r => r.Method == GuestInstallMethod.Apt).WithMessage("runInstaller does not apply to the apt method.");
        RuleFor(r => r.RunInstaller).Cascade(CascadeMode.Stop).MustBeRunInstaller(files).When(r => r.RunInstaller is not null);
    }
}
