using System.CommandLine;
using GpuLxc.Client;
using Spectre.Console;

namespace GpuLxc.Cli;

/// <summary><c>driver status|install|resync</c>: the host's driver and the containers' userspace, installed as jobs.</summary>
public static class DriverCommands
{
    private const string HostTarget = "host";

    public static IEnumerable<Command> Create(CliHost host)
    {
        var driver = new Command("driver", "The NVIDIA driver on the host and in containers");

        var statusTarget = new Argument<string>("target") { Description = "host, or a container", DefaultValueFactory = _ => HostTarget };
        var status = new Command("status", "The host's driver (loaded vs installed), or a container's userspace driver against the host's") { statusTarget };
        status.Handle(host, context => StatusAsync(context, context.Get(statusTarget)));
        driver.Subcommands.Add(status);

        var installTarget = new Argument<string>("target") { Description = "host (default), or a container", DefaultValueFactory = _ => HostTarget };
        var method = new Option<string?>("--method") { Description = "host: package (default) or runInstaller; container: auto (default), apt or runInstaller" };
        var runInstaller = new Option<string?>("--run-installer") { Description = "The NVIDIA .run installer on the host (path)" };
        var version = new Option<string?>("--version") { Description = "host, package method: the exact driver version to install" };
        var noWait = new Option<bool>("--no-wait") { Description = "Start the job and print it; do not follow it" };
        var profile = new Option<string?>("--profile") { Description = "container: plain (default), or docker: then the NVIDIA container toolkit configured for Docker inside, and the container features Docker needs" };
        var restart = new Option<bool>("--restart") { Description = "container, docker profile: restart the container when its features changed" };
        var install = new Command("install", "Install the driver on the host, or the host's exact version in a container, following the job with a progress bar")
        {
            installTarget, method, runInstaller, version, profile, restart, noWait,
        };
        install.Handle(host, async context =>
        {
            var target = context.Get(installTarget);
            if (target == HostTarget && (context.Get(profile) is not null || context.Get(restart)))
            {
                throw new CliUsageException("--profile and --restart apply to a container's install, not the host's.");
            }

            var answer = target == HostTarget
                ? await context.Client.InstallHostDriverAsync(new HostDriverInstallRequest
                {
                    Method = Parse<HostInstallMethod>(context.Get(method), "--method", HostInstallMethod.Package),
                    RunInstaller = context.Get(runInstaller),
                    Version = context.Get(version),
                }, context.CancellationToken)
                : await context.Client.InstallContainerDriverAsync(target, new GuestDriverInstallRequest
                {
                    Method = Parse<GuestInstallMethod>(context.Get(method), "--method", GuestInstallMethod.Auto),
                    RunInstaller = context.Get(runInstaller),
                    Profile = Parse<GuestInstallProfile>(context.Get(profile), "--profile", GuestInstallProfile.Plain),
                    Restart = context.Get(restart),
                }, context.CancellationToken);
            return await StartedAsync(context, answer, context.Get(noWait));
        });
        driver.Subcommands.Add(install);

        var resyncMethod = new Option<string?>("--method") { Description = "auto (default), apt or runInstaller" };
        var resync = new Command("resync", "Reinstall every attached container whose driver no longer matches the host's, following the job")
        {
            resyncMethod, runInstaller, noWait,
        };
        resync.Handle(host, async context => await StartedAsync(context, await context.Client.ResyncDriversAsync(new DriverResyncRequest
        {
            Method = Parse<GuestInstallMethod>(context.Get(resyncMethod), "--method", GuestInstallMethod.Auto),
            RunInstaller = context.Get(runInstaller),
        }, context.CancellationToken), context.Get(noWait)));
        driver.Subcommands.Add(resync);

        var verifyTarget = new Argument<string>("container") { Description = "The container" };
        var verify = new Command("verify", "Check from inside a container that the device nodes are there and nvidia-smi reports the host's version") { verifyTarget, noWait };
        verify.Handle(host, async context => await StartedAsync(context, await context.Client.VerifyContainerGpuAsync(context.Get(verifyTarget), context.CancellationToken), context.Get(noWait)));
        driver.Subcommands.Add(verify);
        yield return driver;
    }

    private static async Task<int> StartedAsync(CommandContext context, GpuLxcResponse<Job> answer, bool noWait)
    {
        if (noWait)
        {
            if (context.Json)
            {
                context.WriteJson(answer.Result);
            }
            else
            {
                context.Out.MarkupLineInterpolated($"job {answer.Result.Id} {Output.Name(answer.Result.State)} ({answer.Location}); follow it with: gpulxc jobs wait {answer.Result.Id}");
            }

            return ExitCodes.Ok;
        }

        if (!context.Json)
        {
            context.Out.MarkupLineInterpolated($"[bold]{Output.Name(answer.Result.Kind)}[/] on {answer.Result.Target}: job {answer.Result.Id}");
        }

        return await JobFollower.FollowAsync(context, answer.Result.Id);
    }

    private static async Task<int> StatusAsync(CommandContext context, string target)
    {
        if (target == HostTarget)
        {
            var driver = await context.Client.GetHostDriverAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(driver);
                return ExitCodes.Ok;
            }

            context.Out.Write(Output.Facts(
                ("loaded", driver.LoadedVersion ?? "none"), ("installed", driver.InstalledVersion), ("userspace", driver.UserspaceVersion),
                ("flavor", Output.Name(driver.Flavor)), ("device nodes complete", Output.YesNo(driver.DeviceNodesComplete)),
                ("persistenced", Output.YesNo(driver.PersistencedRunning)), ("reboot required", Output.YesNo(driver.RebootRequired))));
            return ExitCodes.Ok;
        }

        var guest = await context.Client.GetContainerDriverAsync(target, context.CancellationToken);
        if (context.Json)
        {
            context.WriteJson(guest);
            return ExitCodes.Ok;
        }

        var toolkit = guest.Toolkit;
        context.Out.Write(Output.Facts(
            [
                ("container", guest.ContainerId), ("status", Output.Name(guest.Status)), ("host", guest.HostVersion), ("installed", guest.InstalledVersion),
                ("match", Output.YesNo(guest.Match)), ("method", guest.Method), ("os", guest.Os?.PrettyName),
                ("toolkit", toolkit.NotChecked is { } why ? $"not checked: {why}"
                    : toolkit.Installed != true ? "not installed"
                    : $"{toolkit.Version}, {toolkit.RuntimeMode} mode, no-cgroups {(toolkit.NoCgroups == true ? "true" : "false")}, docker {toolkit.DockerVersion ?? "none"}"),
                .. toolkit.Findings.Select(f => ($"toolkit {Output.Name(f.Severity)}", (string?)$"{f.Message} Fix: {f.Fix}")),
            ]));
        // A toolkit error means Docker's GPU containers fail inside, as surely as a version mismatch does.
        return guest.Match == false || toolkit.Findings.Any(f => f.Severity == ToolkitFindingSeverity.Error) ? ExitCodes.Failure : ExitCodes.Ok;
    }

    /// <summary>An enum option as the contract spells its values, or the default when not given.</summary>
    /// <exception cref="CliUsageException">A value the contract does not have.</exception>
    private static T Parse<T>(string? text, string option, T otherwise)
        where T : struct, Enum
    {
        if (text is null)
        {
            return otherwise;
        }

        return Enum.GetValues<T>().FirstOrDefault(value => Output.Name(value) == text) is var found && Output.Name(found) == text
            ? found
            : throw new CliUsageException($"{option} must be one of {string.Join(", ", Enum.GetValues<T>().Select(Output.Name))}, not '{text}'.");
    }
}
