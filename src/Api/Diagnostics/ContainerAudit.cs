using GpuLxc.Api.Containers.Config;
using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Hosts;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Diagnostics;

/// <summary>One container config as the audit found it.</summary>
/// <param name="ContainerId">The Proxmox vmid or the LXC container's name.</param>
/// <param name="Gpu">Its GPU lines and their problems.</param>
/// <param name="Confinement">Whether its device policy denies by default.</param>
public sealed record AuditedContainer(string ContainerId, GpuConfigAudit Gpu, DeviceConfinement Confinement);

/// <summary>
/// Audits every container config on the host — Proxmox's <c>/etc/pve/lxc/*.conf</c> and LXC's
/// <c>/var/lib/lxc/*/config</c>, managed by GpuLxc or not (issue 13, kinds B and H) — and turns the result into the
/// diagnostics checks <c>container-gpu-lines</c> and <c>container-confinement</c>.
/// </summary>
public sealed class ContainerAudit(IHostFileSystem files, HostInfoReader hosts)
{
    public async Task<IReadOnlyList<AuditedContainer>> ReadAsync(CancellationToken cancellationToken)
    {
        var majors = NvidiaProcFs.ParseCharacterDevices(await files.TryReadTextAsync("/proc/devices", cancellationToken) ?? "");
        var cgroup = hosts.ReadCgroupVersion();
        var configs = files.ListDirectory("/etc/pve/lxc", "*.conf").Select(path => (Path: path, Id: Path.GetFileNameWithoutExtension(path), Proxmox: true))
            .Concat(files.ListDirectory("/var/lib/lxc").Select(directory => (Path: $"{directory}/config", Id: Path.GetFileName(directory), Proxmox: false)));
        var audited = new List<AuditedContainer>();
        foreach (var (path, id, proxmox) in configs)
        {
            if (await files.TryReadBytesAsync(path, cancellationToken) is not { } bytes)
            {
                continue;
            }

            ConfigText config = proxmox ? new ProxmoxConfig(bytes) : new LxcConfig(bytes);
            var unprivileged = proxmox ? config.Get("unprivileged") == "1" : config.Get("lxc.idmap") is not null || config.Get("lxc.id_map") is not null;
            audited.Add(new AuditedContainer(id,
                GpuConfigAuditor.Audit(path, config, proxmox, cgroup, majors, files.Stat),
                await DeviceConfinement.ReadAsync(config, proxmox, unprivileged, files, cancellationToken)));
        }

        return audited;
    }

    /// <summary>
    /// <c>fail</c> when a GPU line keeps a container from starting or its GPU from opening, <c>warn</c> when a container
    /// starts without a node; each problem a finding. <c>skip</c> when no container has GPU lines.
    /// </summary>
    public static DiagnosticCheck GpuLinesCheck(IReadOnlyList<AuditedContainer> containers)
    {
        const string Id = "container-gpu-lines", Title = "Every container's GPU lines work with this host's device nodes and majors";
        var withGpu = containers.Where(c => c.Gpu.Lines.Count > 0).ToList();
        var findings = withGpu.SelectMany(c => c.Gpu.Findings).ToList();
        if (withGpu.Count == 0)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Skip, "No container config passes an NVIDIA device.", null);
        }

        if (findings.Count == 0)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Pass,
                $"{string.Join(", ", withGpu.Select(c => c.Gpu.File))}: every GPU line matches the host's nodes and /proc/devices.", null, []);
        }

        var status = findings.Any(f => f.Severity == FindingSeverity.Fail) ? CheckStatus.Fail : CheckStatus.Warn;
        return new DiagnosticCheck(Id, Title, status,
            string.Join("; ", findings.Select(f => $"{f.File} line {f.Line} `{f.Text}`: {f.Problem}")),
            string.Join(" ", findings.Select(f => $"{f.File} line {f.Line}: {f.Fix}")),
            findings);
    }

    /// <summary>
    /// <c>warn</c> naming every container whose device policy does not deny by default: root inside can create and
    /// open any node, so attaching and detaching its GPU mean nothing.
    /// </summary>
    public static DiagnosticCheck ConfinementCheck(IReadOnlyList<AuditedContainer> containers)
    {
        const string Id = "container-confinement", Title = "Every container denies devices by default, so that detaching a GPU revokes it";
        var open = containers.Where(c => !c.Confinement.DenyByDefault).ToList();
        if (containers.Count == 0)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Skip, "No container config was found.", null);
        }

        return open.Count == 0
            ? new DiagnosticCheck(Id, Title, CheckStatus.Pass, $"{containers.Count} container(s) deny devices by default.", null)
            : new DiagnosticCheck(Id, Title, CheckStatus.Warn,
                string.Join("; ", open.Select(c => $"{c.Gpu.File}: {c.Confinement.Detail}")),
                string.Join(" ", open.Select(c => $"{c.Gpu.File}: {c.Confinement.Fix}")));
    }
}
