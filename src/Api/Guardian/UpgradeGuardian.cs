using GpuLxc.Api.Drivers;
using GpuLxc.Api.Events;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Infrastructure;
using GpuLxc.Api.Jobs;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Guardian;

/// <summary>
/// Watches the host for what breaks containers the morning after an update — the loaded module changed, a driver
/// upgraded but not loaded, a newer kernel without the NVIDIA module, device majors moved — reports it (events,
/// <c>GET /api/v1/host/guardian</c>, diagnostics) and, with policy <c>auto</c>, repairs it: the re-sync job after a
/// module change, the module build for a staged kernel, and re-attaching <c>userspace: host</c> containers as
/// <see cref="GuardianOptions.HostUserspace"/> allows. Checks at start, every <see cref="GuardianOptions.CheckSeconds"/>,
/// and about a second after a change under a watched path (package database, DKMS, kernels).
/// </summary>
public sealed partial class UpgradeGuardian(
    IOptions<GuardianOptions> options,
    HostObserver observer,
    GuardianRepairs repairs,
    IEventPublisher events,
    IHostFileSystem files,
    DataDirectory data,
    TimeProvider time,
    ILogger<UpgradeGuardian> logger) : BackgroundService
{
    /// <summary>Host paths whose changes trigger a check; <c>/var/lib/dkms</c> with its subdirectories (DKMS builds there).</summary>
    public static readonly IReadOnlyList<(string Path, bool Subdirectories)> WatchedPaths =
        [("/var/lib/dpkg/info", false), ("/var/lib/dkms", true), ("/lib/modules", false), ("/boot", false)];

    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(500);
    private readonly GuardianOptions _options = options.Value;
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly List<string> _watching = [];
    private readonly List<GuardianAction> _actions = [];
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private GuardianMemory? _memory;
    private HostObservation? _last;

    /// <summary>The guardian's current view; safe to call from any thread.</summary>
    public GuardianStatus Status()
    {
        lock (_gate)
        {
            return new GuardianStatus(_options.ParsedPolicy, _options.ParsedHostUserspace, _options.CheckSeconds,
                [.. _watching],
                _last?.At, _last, _memory?.LastDriverChange, [.. _actions]);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.ParsedPolicy == RepairPolicy.Off)
        {
            return;
        }

        await Task.Yield();
        _memory = GuardianMemory.Load(data);
        Watch();
        while (!stoppingToken.IsCancellationRequested)
        {
            // Signals that came before this check are covered by it.
            Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            try
            {
                await CheckAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCheckFailed(logger, e);
            }

            try
            {
                var changed = _changed.Task;
                await Task.WhenAny(Task.Delay(TimeSpan.FromSeconds(_options.CheckSeconds), time, stoppingToken), changed);
                stoppingToken.ThrowIfCancellationRequested();
                if (changed.IsCompleted)
                {
                    // dpkg and DKMS write many files in a row: one check after the burst.
                    await Task.Delay(Debounce, time, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public override void Dispose()
    {
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }

        base.Dispose();
    }

    /// <summary>One check: read the host, compare with what was seen before, report and repair the differences.</summary>
    internal async Task CheckAsync(CancellationToken cancellationToken)
    {
        var began = time.GetTimestamp();
        var now = await observer.ReadAsync(cancellationToken);
        var read = time.GetElapsedTime(began);
        var before = _memory;
        var change = before?.LastDriverChange;
        var resyncDue = before?.ResyncDue;
        var moduleChanged = false;
        if (before?.LoadedVersion is { } previous && now.LoadedVersion is { } current && previous != current)
        {
            events.Publish(EventTypes.DriverChanged, new { previous, current });
            LogDriverChanged(logger, previous, current);
            var mismatched = _options.ParsedPolicy == RepairPolicy.Auto ? [] : await repairs.MismatchedContainersAsync(current, cancellationToken);
            change = new DriverChange(now.At, previous, current, mismatched);
            moduleChanged = true;
            resyncDue = _options.ParsedPolicy == RepairPolicy.Auto ? current : null;
        }

        if (resyncDue is not null && resyncDue == now.LoadedVersion)
        {
            var action = await repairs.StartResyncAsync(change, cancellationToken);
            Record([action]);
            var elapsed = time.GetElapsedTime(began);
            if (action is { Action: "resyncStarted", JobId: { } jobId })
            {
                LogResyncStarted(logger, jobId, elapsed.TotalMilliseconds, read.TotalMilliseconds);
            }

            resyncDue = action.Action == "jobRefused" ? resyncDue : null;
        }

        if (moduleChanged && _options.ParsedPolicy == RepairPolicy.Auto)
        {
            // After the re-sync has started: restarting containers takes seconds each.
            Record(await repairs.ReattachHostUserspaceAsync(_options.ParsedHostUserspace, cancellationToken));
        }

        if (now.RebootNeeded && (before?.InstalledVersion != now.InstalledVersion || before?.LoadedVersion != now.LoadedVersion))
        {
            events.Publish(EventTypes.RebootNeeded, new { reason = "driverUpgraded", loaded = now.LoadedVersion, installed = now.InstalledVersion });
        }

        foreach (var staged in now.StagedKernels)
        {
            var seen = before?.StagedKernels.TryGetValue(staged.Kernel, out var built) == true ? built : (bool?)null;
            if (seen is null)
            {
                events.Publish(EventTypes.KernelStaged, new { kernel = staged.Kernel, moduleBuilt = staged.ModuleBuilt });
            }

            if (!staged.ModuleBuilt && seen != false)
            {
                events.Publish(EventTypes.RebootNeeded, new { reason = "moduleMissing", kernel = staged.Kernel, loaded = now.LoadedVersion, installed = now.InstalledVersion });
            }

            if (!staged.ModuleBuilt && _options.ParsedPolicy == RepairPolicy.Auto && staged.Findings.Count == 0)
            {
                Record([await repairs.StartModuleBuildAsync(staged.Kernel, cancellationToken)]);
            }
        }

        foreach (var (device, major) in now.Majors)
        {
            if (before?.Majors.TryGetValue(device, out var old) == true && old != major)
            {
                events.Publish(EventTypes.MajorsChanged, new { device, previous = old, current = major });
            }
        }

        var memory = new GuardianMemory(now.LoadedVersion ?? before?.LoadedVersion, now.InstalledVersion, now.Kernel, now.Majors,
            now.StagedKernels.ToDictionary(k => k.Kernel, k => k.ModuleBuilt, StringComparer.Ordinal), change, resyncDue);
        memory.Save(data);
        lock (_gate)
        {
            _memory = memory;
            _last = now;
        }
    }

    private void Record(IEnumerable<GuardianAction?> actions)
    {
        lock (_gate)
        {
            foreach (var action in actions.OfType<GuardianAction>())
            {
                _actions.Insert(0, action);
            }

            _actions.RemoveRange(Math.Min(_actions.Count, 20), Math.Max(0, _actions.Count - 20));
        }
    }

    private void Watch()
    {
        foreach (var (path, subdirectories) in WatchedPaths)
        {
            try
            {
                if (!files.DirectoryExists(path))
                {
                    continue;
                }

                var watcher = new FileSystemWatcher(files.LocalPath(path)) { IncludeSubdirectories = subdirectories, NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite };
                watcher.Created += (_, _) => _changed.TrySetResult();
                watcher.Deleted += (_, _) => _changed.TrySetResult();
                watcher.Changed += (_, _) => _changed.TrySetResult();
                watcher.Renamed += (_, _) => _changed.TrySetResult();
                watcher.EnableRaisingEvents = true;
                lock (_gate)
                {
                    _watchers.Add(watcher);
                    _watching.Add(path);
                }
            }
            catch (Exception e)
            {
                // inotify's limits reached, a file system without it, or a host path that cannot be read: a watcher only
                // makes the guardian faster, the periodic check still covers the path, and the service must not stop.
                LogWatchFailed(logger, path, e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upgrade guardian: the loaded NVIDIA module changed from {Previous} to {Current}")]
    private static partial void LogDriverChanged(ILogger logger, string previous, string current);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upgrade guardian: re-sync job {JobId} created {Milliseconds:F1} ms after the check that saw the change began (reading the host: {ReadMilliseconds:F1} ms)")]
    private static partial void LogResyncStarted(ILogger logger, string jobId, double milliseconds, double readMilliseconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Upgrade guardian: a check of the host failed")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upgrade guardian: {Path} is not watched ({Reason}); the periodic check covers it")]
    private static partial void LogWatchFailed(ILogger logger, string path, string reason);
}
