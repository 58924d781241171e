namespace GpuLxc.Api.Events;

/// <summary>
/// The event names GpuLxc publishes (the SSE <c>event:</c> field and a webhook body's <c>type</c>). Dotted,
/// lower camelCase, stable once released: automations match on them.
/// </summary>
public static class EventTypes
{
    /// <summary>The loaded kernel module's version differs from the one seen before. Data: <c>previous</c>, <c>current</c>.</summary>
    public const string DriverChanged = "driver.changed";

    /// <summary>A driver on disk differs from the loaded one, or a module is missing for a staged kernel: a reboot (or a build) is needed. Data: <c>reason</c>, <c>loaded</c>, <c>installed</c>.</summary>
    public const string RebootNeeded = "host.rebootNeeded";

    /// <summary>A kernel newer than the running one was installed. Data: <c>kernel</c>, <c>moduleBuilt</c>.</summary>
    public const string KernelStaged = "kernel.staged";

    /// <summary>A device major in <c>/proc/devices</c> changed. Data: <c>device</c>, <c>previous</c>, <c>current</c>.</summary>
    public const string MajorsChanged = "host.majorsChanged";

    /// <summary>A container's attachment lines no longer match the host (once per change of its drift status). Data: <c>containerId</c>, <c>drift</c> (the status), <c>detail</c>, <c>fix</c>.</summary>
    public const string DriftFound = "attachment.driftFound";

    /// <summary>A container's userspace driver no longer matches the loaded module. Data: <c>containerId</c>, <c>installed</c>, <c>host</c>.</summary>
    public const string UserspaceMismatch = "container.userspaceMismatch";

    /// <summary>A resync job started running (by a caller or by the guardian). Data: <c>jobId</c>, <c>trigger</c> (the job's <c>requestedBy</c>: the API key's name, or who else asked). Published by the job store.</summary>
    public const string ResyncStarted = "resync.started";

    /// <summary>A resync job ended. Data: <c>jobId</c>, <c>state</c>, <c>error</c> (its code, or null). Published by the job store.</summary>
    public const string ResyncFinished = "resync.finished";

    /// <summary>Every NVENC session of a budget is taken (once, until room is seen again). Data: <c>scope</c> (the budget: <c>host</c> or a GPU's PCI address), <c>limit</c>, <c>inUse</c>.</summary>
    public const string NvencBudgetFull = "nvenc.budgetFull";

    /// <summary>A job changed state (queued, running, succeeded, failed, cancelled). Data: <c>jobId</c>, <c>kind</c>, <c>target</c>, <c>state</c>, <c>error</c> (its code, or null).</summary>
    public const string JobStateChanged = "job.stateChanged";

    /// <summary>
    /// Every name above, for validating filters (<c>?types=</c>, a webhook's <c>Types</c>). Read from the constants, so
    /// that a name added above is known everywhere without a second list to keep.
    /// </summary>
    public static IReadOnlySet<string> All { get; } = typeof(EventTypes)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToHashSet(StringComparer.Ordinal);
}
