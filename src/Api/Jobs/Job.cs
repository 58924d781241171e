using System.Text.Json.Serialization;

namespace GpuLxc.Api.Jobs;

public enum JobState
{
    /// <summary>Accepted; not started yet.</summary>
    Queued,

    Running,

    Succeeded,

    Failed,

    /// <summary>Cancelled by <c>DELETE /api/v1/jobs/{jobId}</c>; a running command's process tree was killed.</summary>
    Cancelled,
}

public enum JobStepState
{
    Pending,
    Running,
    Succeeded,

    /// <summary>Nothing to do: the step's outcome was already in place (its message says why).</summary>
    Skipped,

    Failed,
    Cancelled,
}

/// <summary>A background job: a driver install, a verification or a re-sync. Jobs are kept after they finish.</summary>
/// <param name="Id">The job's id (32 hex digits, time-ordered).</param>
/// <param name="Kind">What the job does.</param>
/// <param name="Target"><c>host</c>, or the container id the job works on.</param>
/// <param name="State">Where the job is; <c>succeeded</c>, <c>failed</c> and <c>cancelled</c> are final.</param>
/// <param name="Parameters">The request's settings, as the job runs them.</param>
/// <param name="RequestedBy">The name of the API key that started the job.</param>
/// <param name="CreatedAt">When the job was accepted.</param>
/// <param name="StartedAt">When its first step started.</param>
/// <param name="FinishedAt">When it reached a final state.</param>
/// <param name="Steps">The job's steps in order, each with its own state, times and message.</param>
/// <param name="Progress">Finished steps out of all steps, in percent.</param>
/// <param name="CancelRequested">A cancellation was asked for and is under way.</param>
/// <param name="Error">Why the job failed or was cancelled.</param>
/// <param name="Result">What the job found or did, once it has finished.</param>
/// <param name="LogLines">How many lines the job's log holds now (<c>GET /api/v1/jobs/{jobId}/log</c>).</param>
public sealed record Job(
    string Id,
    JobKind Kind,
    string Target,
    JobState State,
    IReadOnlyDictionary<string, string> Parameters,
    string? RequestedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<JobStep> Steps,
    int Progress,
    bool CancelRequested,
    JobError? Error,
    JobResult? Result,
    int LogLines)
{
    public bool IsFinished => State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;

    /// <summary>
    /// The request record the job was started with, as <c>job.parameters</c> stores it (<see cref="JobParameters"/>);
    /// <see cref="Parameters"/> is the view of it the API shows.
    /// </summary>
    [JsonIgnore]
    public string StoredParameters { get; init; } = "{}";

    /// <summary>The request record the job was started with.</summary>
    /// <exception cref="System.Text.Json.JsonException">The job was started with another kind of request.</exception>
    public TRequest RequestAs<TRequest>()
        where TRequest : class => JobParameters.Read<TRequest>(StoredParameters);
}

/// <summary>One step of a job.</summary>
/// <param name="Name">A stable name (<c>preflight</c>, <c>headers</c>, <c>container:101</c>, …).</param>
/// <param name="Title">What the step does, in words.</param>
/// <param name="State">The step's state.</param>
/// <param name="StartedAt">When the step started.</param>
/// <param name="FinishedAt">When it finished.</param>
/// <param name="Message">What the step found or did, or why it failed.</param>
public sealed record JobStep(string Name, string Title, JobStepState State, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Message);

/// <summary>Why a job failed.</summary>
/// <param name="Code">
/// <c>commandFailed</c> (a command exited non-zero), <c>commandTimedOut</c>, <c>commandNotFound</c>,
/// <c>preconditionFailed</c>, <c>noExactVersion</c> (no package of the host's exact version), <c>versionMismatch</c>,
/// <c>verificationFailed</c>, <c>cancelled</c>, <c>interrupted</c> (the service stopped while the job ran) or
/// <c>internalError</c>.
/// </param>
/// <param name="Message">What went wrong.</param>
/// <param name="Step">The step that failed.</param>
/// <param name="Command">The command that failed, as its argv joined by spaces.</param>
/// <param name="ExitCode">The failed command's exit code.</param>
/// <param name="StderrTail">The last lines the failed command wrote to standard error.</param>
/// <param name="Fix">What to do about it, where there is something to do.</param>
public sealed record JobError(string Code, string Message, string? Step = null, string? Command = null, int? ExitCode = null, string? StderrTail = null, string? Fix = null);

/// <summary>What a finished job found or did; fields that do not apply to its kind are null.</summary>
/// <param name="HostVersion">The host's loaded kernel module version, which containers must match exactly.</param>
/// <param name="InstalledVersion">The driver version the job installed or found (on the host, or in the container).</param>
/// <param name="RebootRequired">Host install: the installed module differs from the loaded one until the host reboots.</param>
/// <param name="Method">How the driver was installed: <c>package</c> / <c>apt</c> or <c>runInstaller</c>; a verification of a container attached with <c>userspace: host</c> says <c>host</c>.</param>
/// <param name="Packages">The packages installed, with their exact versions (<c>name=version</c>).</param>
/// <param name="Match">Guest jobs: whether the container's userspace driver equals the host's version.</param>
/// <param name="Containers">Re-sync: every attached container and what happened to it.</param>
/// <param name="RestartRequired">Guest install with the docker profile: the container's features changed while it ran and apply only from its next start.</param>
/// <param name="Docker">Guest install with the docker profile: what it found and set up for Docker inside.</param>
public sealed record JobResult(
    string? HostVersion = null,
    string? InstalledVersion = null,
    bool? RebootRequired = null,
    string? Method = null,
    IReadOnlyList<string>? Packages = null,
    bool? Match = null,
    IReadOnlyList<ResyncedContainer>? Containers = null,
    bool? RestartRequired = null,
    DockerSetup? Docker = null);

/// <summary>What the docker profile of a guest install found and set up.</summary>
/// <param name="Features">Proxmox: the container's <c>features:</c> value now (<c>keyctl=1,nesting=1</c>); null with the plain LXC backend, which GpuLxc does not edit for this.</param>
/// <param name="FeaturesChanged">Whether the job changed the container's features.</param>
/// <param name="Restarted">Whether the job restarted the container (asked with <c>restart: true</c>, and its features changed while it ran).</param>
/// <param name="DockerVersion">The Docker Engine (server) version inside, as <c>docker version</c> reports it.</param>
/// <param name="ToolkitVersion">The NVIDIA container toolkit's package version inside (<c>1.17.8-1</c>).</param>
/// <param name="Cdi">Whether Docker inside uses CDI (Docker 25 and later): <c>/etc/cdi/nvidia.yaml</c> is generated and <c>--device nvidia.com/gpu=all</c> works.</param>
/// <param name="Changed">What the job changed inside, in order (empty: everything was in place already).</param>
public sealed record DockerSetup(string? Features, bool FeaturesChanged, bool Restarted, string DockerVersion, string ToolkitVersion, bool Cdi, IReadOnlyList<string> Changed);

/// <summary>One attached container in a re-sync.</summary>
/// <param name="ContainerId">The container.</param>
/// <param name="Before">Its userspace driver version before the re-sync (null: none or unreadable).</param>
/// <param name="After">Its version after the re-sync.</param>
/// <param name="Outcome"><c>inSync</c>, <c>reinstalled</c>, <c>failed</c> or <c>skipped</c> (not running, or attached with <c>userspace: host</c>).</param>
public sealed record ResyncedContainer(string ContainerId, string? Before, string? After, string Outcome);

/// <summary>Lines of a job's log.</summary>
/// <param name="JobId">The job.</param>
/// <param name="State">The job's state when the lines were read: with a final state no more lines will come.</param>
/// <param name="Lines">The lines after the requested line number, in order.</param>
/// <param name="Next">The number of the last line returned (or <c>after</c> when none): pass it as <c>after</c> for the new lines.</param>
public sealed record JobLog(string JobId, JobState State, IReadOnlyList<JobLogLine> Lines, int Next);

/// <summary>One line of a job's log.</summary>
/// <param name="Line">Its number, from 1.</param>
/// <param name="At">When it was written.</param>
/// <param name="Stream"><c>stdout</c> or <c>stderr</c> of a command, or <c>job</c> for the job's own lines (the commands it runs, step changes).</param>
/// <param name="Text">The line.</param>
public sealed record JobLogLine(int Line, DateTimeOffset At, string Stream, string Text);
