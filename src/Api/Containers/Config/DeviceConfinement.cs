using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Containers.Config;

/// <summary>
/// Whether a container's device policy denies by default, so that attaching and detaching a GPU mean something
/// (issue 13, kind H). A privileged container whose device cgroup lets everything through can <c>mknod</c> and open
/// any node itself: detaching does not revoke its GPU.
/// </summary>
/// <param name="DenyByDefault">Devices not allowed by a rule are denied (EPERM) inside the container.</param>
/// <param name="Detail">Where that comes from — the deny-all line or include, Proxmox's own deny-all, the user
/// namespace — or, when false, why root inside can open any device.</param>
/// <param name="Fix">What to change so that it denies by default; null when it does.</param>
public sealed record DeviceConfinement(bool DenyByDefault, string Detail, string? Fix)
{
    private const int MaxIncludeDepth = 8;

    /// <summary>
    /// Judges <paramref name="config"/> (its main section): an explicit <c>devices.allow = a</c> opens every device; an
    /// unprivileged container cannot create device nodes; Proxmox generates a deny-all for every container; a plain LXC
    /// config denies by default only with a <c>devices.deny = a</c> line of either cgroup key, itself or in a file it
    /// includes (followed on the host, directories included, up to 8 levels; an include named <c>common.conf</c> that
    /// cannot be read counts as LXC's, which denies all).
    /// </summary>
    public static async Task<DeviceConfinement> ReadAsync(ConfigText config, bool proxmox, bool unprivileged, IHostFileSystem files, CancellationToken cancellationToken)
    {
        var settings = config.Settings().ToList();
        if (settings.FirstOrDefault(s => IsDevicesKey(s.Key, "allow") && s.Value.Trim() == "a") is { Key: not null } allowAll)
        {
            return new DeviceConfinement(false,
                $"`{config.FormatSetting(allowAll.Key, allowAll.Value)}` lets the container open every device: root inside can create the GPU's nodes itself, so detaching does not revoke the GPU.",
                $"Remove `{config.FormatSetting(allowAll.Key, allowAll.Value)}` and allow only the devices the container needs.");
        }

        if (unprivileged)
        {
            return new DeviceConfinement(true, "The container is unprivileged: root inside cannot create device nodes; it reaches only the nodes passed in.", null);
        }

        if (proxmox)
        {
            return new DeviceConfinement(true,
                "Proxmox generates the container's LXC config with its own deny-all device rule (pve-container includes LXC's common.conf); no line here overrides it.", null);
        }

        if (settings.FirstOrDefault(s => IsDevicesKey(s.Key, "deny") && s.Value.Trim() == "a") is { Key: not null } denyAll)
        {
            return new DeviceConfinement(true, $"`{config.FormatSetting(denyAll.Key, denyAll.Value)}` denies every device not allowed by a rule.", null);
        }

        foreach (var include in settings.Where(s => s.Key == "lxc.include").Select(s => s.Value.Trim()))
        {
            if (await DeniesAllAsync(include, files, 0, cancellationToken) is { } source)
            {
                return new DeviceConfinement(true, $"{source} denies every device not allowed by a rule.", null);
            }
        }

        return new DeviceConfinement(false,
            "The container is privileged and nothing denies devices by default (no `lxc.cgroup2.devices.deny = a` or `lxc.cgroup.devices.deny = a`, no include of LXC's common.conf): " +
            "root inside can create the GPU's nodes itself (NVML does), so detaching does not revoke the GPU.",
            "Add `lxc.include = /usr/share/lxc/config/common.conf` (or `lxc.cgroup2.devices.deny = a` before the allow rules) to the config, or make the container unprivileged.");
    }

    /// <summary>
    /// The same, saying that <paramref name="rule"/> (the DRM allow rule of a raw-mode attachment, <c>c 226:* rwm</c>)
    /// lets the container open every card and render node of the host, not only those bound in; <paramref name="unprivileged"/>: whether root inside can create them.
    /// </summary>
    public DeviceConfinement WithWholeMajor(string rule, bool unprivileged) => this with
    {
        Detail = $"{Detail} `{rule}` allows every DRM card and render node of the host, not only the attached GPU's: a node's minor follows the card order, " +
                 "which can change at boot, so no narrower rule would stay right. Only the attached nodes are bound in" +
                 (unprivileged ? ", and an unprivileged container cannot create the others." : "; root in this privileged container can create the others with mknod."),
    };

    private static bool IsDevicesKey(string key, string verb) => key == $"lxc.cgroup2.devices.{verb}" || key == $"lxc.cgroup.devices.{verb}";

    /// <summary>The include (and the file in it) that has a deny-all line; null when none does.</summary>
    private static async Task<string?> DeniesAllAsync(string path, IHostFileSystem files, int depth, CancellationToken cancellationToken)
    {
        if (depth >= MaxIncludeDepth)
        {
            return null;
        }

        if (files.DirectoryExists(path))
        {
            foreach (var file in files.ListDirectory(path, "*.conf").Order(StringComparer.Ordinal))
            {
                if (await DeniesAllAsync(file, files, depth + 1, cancellationToken) is { } source)
                {
                    return source;
                }
            }

            return null;
        }

        if (await files.TryReadBytesAsync(path, cancellationToken) is not { } bytes)
        {
            return Path.GetFileName(path) == "common.conf" ? $"The include of LXC's {path} (not readable here; LXC's common.conf has `devices.deny = a`)" : null;
        }

        var included = new LxcConfig(bytes);
        var settings = included.Settings().ToList();
        if (settings.FirstOrDefault(s => IsDevicesKey(s.Key, "deny") && s.Value.Trim() == "a") is { Key: not null } deny)
        {
            return $"`{included.FormatSetting(deny.Key, deny.Value)}` in the included {path}";
        }

        foreach (var nested in settings.Where(s => s.Key == "lxc.include").Select(s => s.Value.Trim()))
        {
            if (await DeniesAllAsync(nested, files, depth + 1, cancellationToken) is { } source)
            {
                return source;
            }
        }

        return null;
    }
}
