using System.Globalization;
using GpuLxc.Api.Containers;
using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// Finds a group in the container's own <c>/etc/group</c>: the guest's gids are its own (a Debian guest's
/// <c>render</c> is not the host's), so a <c>gid=</c> taken from the host would name another group inside.
/// </summary>
public sealed class GuestGroupReader(IHostFileSystem files, IHostCommandRunner commands)
{
    private static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The group <paramref name="name"/> of the container. Read inside a running container (<c>pct exec</c> /
    /// <c>lxc-attach</c> … <c>cat /etc/group</c>); for a stopped plain-LXC container with a directory rootfs
    /// (<c>lxc.rootfs.path = dir:…</c>), from that directory, when its <c>/etc/group</c> is a regular file (a guest's
    /// symlink is not followed onto the host). <see cref="PlanException"/> when the file cannot be read that way or names
    /// no such group.
    /// </summary>
    public async Task<GuestGroup> FindAsync(IContainerBackend backend, string containerId, ConfigText config, string name, CancellationToken cancellationToken)
    {
        var (text, why) = await ReadAsync(backend, containerId, config, cancellationToken);
        if (text is null)
        {
            throw new PlanException($"GpuLxc cannot read /etc/group of container {containerId} to find group '{name}': {why}",
                why.StartsWith("it is not running", StringComparison.Ordinal)
                    ? $"Start container {containerId} and PUT again, or leave out group."
                    : $"Check that container {containerId} has a readable /etc/group (`{backend.Exec(containerId, ["cat", "/etc/group"])}`), or leave out group.");
        }

        return Parse(text).FirstOrDefault(g => g.Name == name)
               ?? throw new PlanException($"Container {containerId} has no group '{name}' in its /etc/group.",
                   $"Create it inside (`groupadd {name}`) and add the users who use the GPU to it, or name a group the container has.");
    }

    /// <summary>The groups of an <c>/etc/group</c> text (<c>name:x:gid:members</c>); lines that do not parse are left out.</summary>
    public static IEnumerable<GuestGroup> Parse(string text) => text.Split('\n')
        .Select(line => line.TrimEnd('\r').Split(':'))
        .Where(parts => parts.Length >= 3 && parts[0].Length > 0)
        .Select(parts => uint.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var gid) ? new GuestGroup(parts[0], gid) : null)
        .OfType<GuestGroup>();

    /// <summary>The file's text, or null and why it could not be read (a sentence).</summary>
    private async Task<(string? Text, string Why)> ReadAsync(IContainerBackend backend, string containerId, ConfigText config, CancellationToken cancellationToken)
    {
        const string Stopped = "it is not running, and its rootfs is not a directory on the host.";
        if (await backend.StatusAsync(containerId, cancellationToken) == ContainerStatus.Running)
        {
            var result = await commands.RunAsync(backend.Exec(containerId, ["cat", "/etc/group"]) with { Timeout = ExecTimeout }, cancellationToken);
            var said = result.StandardError.Trim() is { Length: > 0 } error ? error.Split('\n')[^1] : $"exit code {result.ExitCode}";
            return result.Succeeded ? (result.StandardOutput, "") : (null, $"reading it inside the running container failed ({said}).");
        }

        if (backend.Kind != HostBackend.Lxc || config.Get("lxc.rootfs.path") is not { } rootfs)
        {
            return (null, Stopped);
        }

        var directory = rootfs.StartsWith("dir:", StringComparison.Ordinal) ? rootfs["dir:".Length..] : rootfs.Contains(':', StringComparison.Ordinal) ? null : rootfs;
        if (directory is null || !directory.StartsWith('/') || directory.Split('/').Contains(".."))
        {
            return (null, Stopped);
        }

        var path = $"{directory.TrimEnd('/')}/etc/group";
        return files.Stat(path)?.Type == HostFileType.Regular && await files.TryReadTextAsync(path, cancellationToken) is { } text
            ? (text, "")
            : (null, $"it is not running, and {path} is not a regular file.");
    }
}
