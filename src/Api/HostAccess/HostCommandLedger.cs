using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace GpuLxc.Api.HostAccess;

/// <summary>
/// The host commands this service has running, one small file each (<c>&lt;pid&gt;.json</c>) in a directory of the
/// data dir, removed when the command ends. When the service is killed, its commands (apt, dpkg, an installer) go on,
/// reparented to init; the next start reads what is left here and ends them (<see cref="OrphanedCommandReaper"/>)
/// before any job can start a conflicting one.
/// <para>
/// A process is known by its pid and its start time in clock ticks since boot (<c>/proc/&lt;pid&gt;/stat</c> field
/// 22), so a pid the kernel has since given to another process is never touched. Each command runs as the leader
/// of its own session (<c>setsid</c>), so its whole tree — also children that outlived their parent — is found by
/// session id. These are this machine's own processes: <c>/proc</c> is read directly, not under
/// <c>GpuLxc:Host:Root</c>.
/// </para>
/// </summary>
public sealed partial class HostCommandLedger(string directory)
{
    /// <summary>One recorded command: its pid, kernel start time (clock ticks since boot) and what it was.</summary>
    public sealed record Entry(int Pid, ulong StartTicks, string Command, DateTimeOffset StartedAt);

    /// <summary>The directory the entries are kept in.</summary>
    public string Directory { get; } = directory;

    /// <summary>
    /// Records a started command; disposing the result removes the record. Null when it already ended, or when the
    /// record cannot be written (the command runs on either way: failing it here would orphan it for certain).
    /// </summary>
    public IDisposable? Record(int pid, string command, DateTimeOffset startedAt)
    {
        if (ProcessStat.Read(pid) is not { } stat)
        {
            return null;
        }

        try
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var path = PathOf(pid);
            File.WriteAllText(path, JsonSerializer.Serialize(new Entry(pid, stat.StartTicks, command, startedAt)));
            return new Removal(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Every recorded command; unreadable records are skipped (and removed).</summary>
    public IReadOnlyList<Entry> Entries()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }

        var entries = new List<Entry>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize<Entry>(File.ReadAllText(path)) is { } entry)
                {
                    entries.Add(entry);
                    continue;
                }
            }
            catch (JsonException)
            {
                // A record cut short by the kill itself: nothing can be learnt from it.
            }

            File.Delete(path);
        }

        return entries;
    }

    /// <summary>Removes the record of <paramref name="pid"/>.</summary>
    public void Forget(int pid) => File.Delete(PathOf(pid));

    /// <summary>
    /// Whether the recorded process still runs: the same pid with the same start time. A reused pid is another
    /// process and does not count.
    /// </summary>
    public static bool IsRunning(Entry entry) => ProcessStat.Read(entry.Pid) is { } stat && stat.StartTicks == entry.StartTicks;

    /// <summary>
    /// Ends every process of the session <paramref name="entry"/> leads: SIGTERM, then SIGKILL to what is left after
    /// <paramref name="grace"/>; returns once none is left or after a further 5 s, with the number of processes found.
    /// </summary>
    public static async Task<int> EndSessionAsync(Entry entry, TimeSpan grace, CancellationToken cancellationToken)
    {
        var members = SessionMembers(entry);
        foreach (var pid in members)
        {
            _ = Kill(pid, SigTerm);
        }

        var deadline = DateTime.UtcNow + grace;
        var killed = false;
        while (SessionMembers(entry) is { Count: > 0 } left)
        {
            if (DateTime.UtcNow >= deadline)
            {
                if (killed)
                {
                    break;
                }

                foreach (var pid in left)
                {
                    _ = Kill(pid, SigKill);
                }

                killed = true;
                deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            }

            await Task.Delay(50, cancellationToken);
        }

        return members.Count;
    }

    /// <summary>
    /// The processes of the session, or just the leader when it is not a session leader (an older record, or no
    /// setsid on the host). Only processes started no earlier than the leader count: a session id is a pid, and may
    /// have been reused after the whole session ended.
    /// </summary>
    private static List<int> SessionMembers(Entry entry)
    {
        var members = new List<int>();
        foreach (var proc in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(proc), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) &&
                ProcessStat.Read(pid) is { } stat &&
                (pid == entry.Pid ? stat.StartTicks == entry.StartTicks : stat.Session == entry.Pid && stat.StartTicks >= entry.StartTicks) &&
                stat.State is not 'Z')
            {
                members.Add(pid);
            }
        }

        return members;
    }

    private string PathOf(int pid) => Path.Join(Directory, $"{pid.ToString(CultureInfo.InvariantCulture)}.json");

    private const int SigTerm = 15;
    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private sealed class Removal(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }
}

/// <summary>The fields of <c>/proc/&lt;pid&gt;/stat</c> the ledger needs.</summary>
internal sealed record ProcessStat(char State, int Session, ulong StartTicks)
{
    /// <summary>Null when the process does not exist (any more).</summary>
    public static ProcessStat? Read(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) state ppid pgrp session … starttime …": comm may hold spaces and parentheses, so the fields are
        // counted from the last ')'. After it, field 3 (state) is index 0, field 6 (session) index 3, field 22
        // (starttime) index 19.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 19 &&
               int.TryParse(fields[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var session) &&
               ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            ? new ProcessStat(fields[0][0], session, start)
            : null;
    }
}
