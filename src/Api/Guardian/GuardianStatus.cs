using System.Text.Json;
using GpuLxc.Api.Infrastructure;

namespace GpuLxc.Api.Guardian;

/// <summary>Something the guardian did, or left to the operator.</summary>
/// <param name="At">When (UTC).</param>
/// <param name="Action"><c>resyncStarted</c>, <c>moduleBuildStarted</c>, <c>reattached</c>, <c>jobRefused</c> (a conflicting job was running: retried at the next check) or <c>failed</c>.</param>
/// <param name="Detail">What, in words: the versions, the kernel, the container.</param>
/// <param name="JobId">The job it started, when it started one.</param>
public sealed record GuardianAction(DateTimeOffset At, string Action, string Detail, string? JobId);

/// <summary>A change of the loaded module the guardian saw.</summary>
/// <param name="At">When the guardian saw it (UTC).</param>
/// <param name="Previous">The module version seen before.</param>
/// <param name="Current">The module version loaded now.</param>
/// <param name="MismatchedContainers">Running containers whose userspace driver was found not to match (notify policy; with auto the re-sync job's result says).</param>
public sealed record DriverChange(DateTimeOffset At, string Previous, string Current, IReadOnlyList<string> MismatchedContainers);

/// <summary>The upgrade guardian's view (<c>GET /api/v1/host/guardian</c>).</summary>
/// <param name="Policy"><c>auto</c>, <c>notify</c> or <c>off</c> (<c>GpuLxc:Guardian:Policy</c>).</param>
/// <param name="HostUserspace">What <c>auto</c> does with <c>userspace: host</c> containers (<c>GpuLxc:Guardian:HostUserspace</c>).</param>
/// <param name="CheckSeconds">Seconds between two periodic checks.</param>
/// <param name="Watching">Host paths watched for changes (inotify), checked within about a second of a change.</param>
/// <param name="CheckedAt">When the host was last checked; null before the first check (or with policy <c>off</c>).</param>
/// <param name="Host">What that check saw.</param>
/// <param name="LastDriverChange">The last module change seen, since the service's data directory was created.</param>
/// <param name="Actions">The guardian's latest actions, newest first (at most 20).</param>
public sealed record GuardianStatus(
    RepairPolicy Policy,
    HostUserspaceRepair HostUserspace,
    int CheckSeconds,
    IReadOnlyList<string> Watching,
    DateTimeOffset? CheckedAt,
    HostObservation? Host,
    DriverChange? LastDriverChange,
    IReadOnlyList<GuardianAction> Actions);

/// <summary>
/// What the guardian remembers between checks and across restarts (a reboot is a restart of the service): the last
/// loaded and installed versions, kernel, majors and staged kernels seen, so that a reboot into a new module is a
/// change, not a first sight. A small JSON file in the data directory (mode 0600), written atomically.
/// </summary>
/// <param name="LoadedVersion">The loaded module last seen.</param>
/// <param name="InstalledVersion">The installed module last seen.</param>
/// <param name="Kernel">The running kernel last seen.</param>
/// <param name="Majors">The NVIDIA majors last seen.</param>
/// <param name="StagedKernels">Staged kernels last seen, and whether their module was built.</param>
/// <param name="LastDriverChange">The last module change.</param>
/// <param name="ResyncDue">A module version whose re-sync <c>auto</c> still has to start (a conflicting job ran).</param>
public sealed record GuardianMemory(
    string? LoadedVersion,
    string? InstalledVersion,
    string? Kernel,
    IReadOnlyDictionary<string, uint> Majors,
    IReadOnlyDictionary<string, bool> StagedKernels,
    DriverChange? LastDriverChange,
    string? ResyncDue)
{
    public const string FileName = "guardian.json";

    private static readonly JsonSerializerOptions Json = CreateJson();

    /// <summary>The remembered state; null when there is none yet or it cannot be read (then the next check is a first sight).</summary>
    public static GuardianMemory? Load(DataDirectory data)
    {
        var path = data.File(FileName);
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<GuardianMemory>(File.ReadAllBytes(path), Json) : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes the state: a temporary 0600 file beside it, then a rename.</summary>
    public void Save(DataDirectory data)
    {
        var path = data.File(FileName);
        var temporary = data.PrivateFile($"{FileName}.tmp");
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(this, Json));
        File.Move(temporary, path, overwrite: true);
    }

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions();
        ApiJson.Configure(options);
        return options;
    }
}
