using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Guardian;

/// <summary>What the guardian does when the host's driver changes under the containers.</summary>
public enum RepairPolicy
{
    /// <summary>Reports (events, diagnostics, <c>GET /api/v1/host/guardian</c>) and repairs: starts the re-sync and the staged kernels' module builds itself.</summary>
    Auto,

    /// <summary>Reports only; the operator starts the jobs. The default.</summary>
    Notify,

    /// <summary>Neither watches nor reports.</summary>
    Off,
}

/// <summary>What an <c>auto</c> guardian does with containers attached with <c>userspace: host</c> after a module change.</summary>
public enum HostUserspaceRepair
{
    /// <summary>Nothing: their drift says <c>hostChanged</c>; the operator re-attaches them (PUT … ?restart=true). The default.</summary>
    Leave,

    /// <summary>Re-attaches the stopped ones (they start with the new files); running ones are left to the operator.</summary>
    Stopped,

    /// <summary>Re-attaches every one, restarting the running ones.</summary>
    Restart,
}

/// <summary>Bound from <c>GpuLxc:Guardian</c>; checked by <see cref="GuardianOptionsValidator"/> when the service starts.</summary>
public sealed class GuardianOptions
{
    public const string Section = "GpuLxc:Guardian";
    public const int MinCheckSeconds = 1;
    public const int MaxCheckSeconds = 3600;

    /// <summary><c>auto</c>, <c>notify</c> (default) or <c>off</c>; any letter case.</summary>
    public string Policy { get; set; } = "notify";

    /// <summary>
    /// Seconds between two checks of the host (1–3600, default 30). sysfs and procfs send no file-system
    /// notifications, so a module reloaded without a reboot is seen at the next check; package and DKMS changes are
    /// seen at once where inotify works.
    /// </summary>
    public int CheckSeconds { get; set; } = 30;

    /// <summary><c>leave</c> (default), <c>stopped</c> or <c>restart</c>: see <see cref="HostUserspaceRepair"/>.</summary>
    public string HostUserspace { get; set; } = "leave";

    /// <summary>The parsed <see cref="Policy"/>; valid once the validator passed.</summary>
    public RepairPolicy ParsedPolicy => Parse<RepairPolicy>(Policy) ?? RepairPolicy.Notify;

    /// <summary>The parsed <see cref="HostUserspace"/>; valid once the validator passed.</summary>
    public HostUserspaceRepair ParsedHostUserspace => Parse<HostUserspaceRepair>(HostUserspace) ?? HostUserspaceRepair.Leave;

    internal static T? Parse<T>(string value)
        where T : struct, Enum =>
        !value.Contains(',', StringComparison.Ordinal) && !int.TryParse(value, out _) && Enum.TryParse<T>(value.Trim(), ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
            ? parsed
            : null;
}

/// <summary>Refuses a policy, a repair or an interval the guardian would misread; each failure names the setting and what it may be.</summary>
public sealed class GuardianOptionsValidator : IValidateOptions<GuardianOptions>
{
    public ValidateOptionsResult Validate(string? name, GuardianOptions options)
    {
        var failures = new List<string>();
        if (GuardianOptions.Parse<RepairPolicy>(options.Policy) is null)
        {
            failures.Add($"{GuardianOptions.Section}:Policy is '{options.Policy}': use 'auto', 'notify' (default) or 'off'.");
        }

        if (GuardianOptions.Parse<HostUserspaceRepair>(options.HostUserspace) is null)
        {
            failures.Add($"{GuardianOptions.Section}:HostUserspace is '{options.HostUserspace}': use 'leave' (default), 'stopped' or 'restart'.");
        }

        if (options.CheckSeconds is < GuardianOptions.MinCheckSeconds or > GuardianOptions.MaxCheckSeconds)
        {
            failures.Add($"{GuardianOptions.Section}:CheckSeconds is {options.CheckSeconds}: use {GuardianOptions.MinCheckSeconds} to {GuardianOptions.MaxCheckSeconds} (default 30).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
