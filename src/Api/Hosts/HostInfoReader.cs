using System.Text.RegularExpressions;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Hosts;

/// <summary>Reads <see cref="HostInfo"/> through the host seam. Never throws for a missing fact: it notes it.</summary>
public sealed partial class HostInfoReader(IHostFileSystem files, IHostCommandRunner commands, HostBackendDetector backends, HostDriverReader drivers)
{
    private static readonly TimeSpan PveVersionTimeout = TimeSpan.FromSeconds(15);

    public async Task<HostInfo> ReadAsync(CancellationToken cancellationToken)
    {
        var notes = new List<string>();

        var hostname = await ReadFirstLineAsync("/proc/sys/kernel/hostname", cancellationToken)
                       ?? await ReadFirstLineAsync("/etc/hostname", cancellationToken);
        if (hostname is null)
        {
            notes.Add("Neither /proc/sys/kernel/hostname nor /etc/hostname could be read.");
        }

        var kernel = await ReadFirstLineAsync("/proc/sys/kernel/osrelease", cancellationToken);
        if (kernel is null)
        {
            notes.Add("/proc/sys/kernel/osrelease could not be read: is /proc mounted under the host root?");
        }

        var osRelease = await files.TryReadTextAsync("/etc/os-release", cancellationToken)
                        ?? await files.TryReadTextAsync("/usr/lib/os-release", cancellationToken);
        if (osRelease is null)
        {
            notes.Add("Neither /etc/os-release nor /usr/lib/os-release could be read.");
        }

        var cgroup = ReadCgroupVersion();
        if (cgroup == CgroupVersion.Unknown)
        {
            notes.Add("/sys/fs/cgroup is missing: the cgroup version is unknown.");
        }

        var backend = backends.Detect();
        var proxmoxVersion = await ReadProxmoxVersionAsync(notes, cancellationToken);
        var modules = NvidiaProcFs.ParseModules(await files.TryReadTextAsync("/proc/modules", cancellationToken) ?? "");

        return new HostInfo(
            hostname,
            kernel,
            osRelease is null ? null : OsRelease.ToOsInfo(OsRelease.Parse(osRelease)),
            cgroup,
            backend.Backend,
            backend.Source,
            proxmoxVersion,
            await drivers.SecureBootAsync(cancellationToken),
            modules.Contains("nouveau"),
            drivers.Headers(kernel).Present,
            notes);
    }

    /// <summary>
    /// cgroup2 mounted on /sys/fs/cgroup has <c>cgroup.controllers</c> at its top; a hybrid host has it only under
    /// <c>unified/</c>; a legacy host has neither.
    /// </summary>
    public CgroupVersion ReadCgroupVersion()
    {
        if (files.FileExists("/sys/fs/cgroup/cgroup.controllers"))
        {
            return CgroupVersion.V2;
        }

        if (files.FileExists("/sys/fs/cgroup/unified/cgroup.controllers"))
        {
            return CgroupVersion.Hybrid;
        }

        return files.DirectoryExists("/sys/fs/cgroup") ? CgroupVersion.V1 : CgroupVersion.Unknown;
    }

    private async Task<string?> ReadProxmoxVersionAsync(List<string> notes, CancellationToken cancellationToken)
    {
        if (commands.FindExecutable("pveversion") is null)
        {
            return null;
        }

        try
        {
            var result = await commands.RunAsync(new HostCommand("pveversion") { Timeout = PveVersionTimeout }, cancellationToken);
            var version = ParsePveVersion(result.StandardOutput);
            if (!result.Succeeded || version is null)
            {
                notes.Add($"pveversion exited with {result.ExitCode} and printed no pve-manager version.");
            }

            return version;
        }
        catch (HostCommandTimeoutException e)
        {
            notes.Add(e.Message);
            return null;
        }
    }

    /// <summary>The version in <c>pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.8-2-pve)</c>.</summary>
    public static string? ParsePveVersion(string output)
    {
        var match = PveManagerPattern().Match(output);
        return match.Success ? match.Groups["version"].Value : null;
    }

    private async Task<string?> ReadFirstLineAsync(string hostPath, CancellationToken cancellationToken)
    {
        var text = await files.TryReadTextAsync(hostPath, cancellationToken);
        var line = text?.Split('\n')[0].Trim();
        return string.IsNullOrEmpty(line) ? null : line;
    }

    [GeneratedRegex(@"pve-manager/(?<version>[0-9][0-9A-Za-z.~+-]*)")]
    private static partial Regex PveManagerPattern();
}
