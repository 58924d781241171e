using System.Text.RegularExpressions;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Attachments;

/// <summary>
/// The lines of <c>userspace: host</c>: read-only bind mounts of the host's driver files of the loaded version
/// (<see cref="HostUserspaceReader"/>) into the container, so that it needs no driver of its own and can never
/// mismatch the host's module.
/// <para>
/// How the guest's loader finds them: each library is bound into <see cref="GuestLibraryDirectory"/>, a directory
/// glibc's loader searches by default on Debian and Ubuntu even with no <c>ld.so.cache</c>, under its versioned name
/// AND under its SONAME (<c>libcuda.so.1</c>, the name programs <c>dlopen</c>); programs go to <c>/usr/bin</c>.
/// Not an LXC hook that runs <c>ldconfig</c> at start: that needs <c>ldconfig</c> in the guest (busybox and OCI
/// application images have none), runs a guest program from a host hook, and leaves a cache naming the files after a
/// detach. Not SONAME symlinks made in the guest: a symlink cannot be a bind mount's source, and links made in the
/// rootfs ahead of the mounts are not there at start (seen on the GPU test host); a bind of the versioned file at
/// the SONAME path is a file the loader opens like any other. Each line is <c>optional</c> so that a file removed
/// by a host upgrade keeps the container starting (drift then says why it lacks it), and <c>create=file</c> makes
/// the mount point: LXC leaves those empty, mode-0000 files in the rootfs after a detach — nothing a loader or a
/// shell can use, and a later driver install replaces them.
/// </para>
/// </summary>
public static partial class UserspaceMounts
{
    /// <summary>
    /// NVML, CUDA and NVENC/NVDEC: what the GPU workloads GpuLxc serves use (NVIDIA's toolkit defaults to utility and
    /// compute; GpuLxc manages NVENC sessions too). Graphics is left to ask for: it needs a display stack in the guest.
    /// </summary>
    public static readonly IReadOnlyList<DriverCapability> DefaultCapabilities = [DriverCapability.Utility, DriverCapability.Compute, DriverCapability.Video];

    /// <summary>Where libraries are bound: the Debian/Ubuntu multiarch directory of x86_64.</summary>
    public const string GuestLibraryDirectory = "usr/lib/x86_64-linux-gnu";

    public const string GuestProgramDirectory = "usr/bin";

    private const string MountKey = "lxc.mount.entry";
    private const string Options = "none bind,ro,optional,create=file";

    /// <summary>
    /// <paramref name="plan"/> with the mounts <paramref name="request"/> asks for added after its device lines; unchanged
    /// for <c>installed</c>.
    /// </summary>
    /// <exception cref="PlanException">With <c>host</c>: no NVIDIA module is loaded, or a capability asked for has no file on the host.</exception>
    public static AttachmentPlan Add(AttachmentPlan plan, AttachRequest request, HostUserspace? userspace) =>
        request.Userspace == UserspaceSource.Host ? plan with { Lines = [.. plan.Lines, .. Lines(request, userspace)] } : plan;

    /// <summary>The mount lines for <paramref name="request"/>'s capabilities (see <see cref="Add"/>).</summary>
    public static IReadOnlyList<PlannedLine> Lines(AttachRequest request, HostUserspace? userspace)
    {
        if (userspace is null)
        {
            throw new PlanException("userspace host needs the driver's loaded version, and no NVIDIA kernel module is loaded.",
                "Load the host driver (GET /api/v1/diagnostics says why it is not), or attach with userspace installed.");
        }

        var capabilities = (request.Capabilities ?? DefaultCapabilities).Distinct().Order().ToList();
        var lacking = capabilities.Where(c => !userspace.Of(c).Any()).ToList();
        if (lacking.Count > 0)
        {
            throw new PlanException(
                $"The host has no {string.Join(", ", lacking.Select(c => c.ToString().ToLowerInvariant()))} files of driver {userspace.Version} " +
                $"(looked in {userspace.Source}).",
                "Leave those capabilities out, or install the driver's userspace on the host (its libraries of the loaded version).");
        }

        var lines = new List<PlannedLine>();
        foreach (var file in capabilities.SelectMany(userspace.Of))
        {
            if (file.Executable)
            {
                lines.Add(Mount(file.HostPath, $"{GuestProgramDirectory}/{file.Name}"));
                continue;
            }

            lines.Add(Mount(file.HostPath, $"{GuestLibraryDirectory}/{file.Name}"));
            if (file.Soname is { } soname)
            {
                lines.Add(Mount(file.HostPath, $"{GuestLibraryDirectory}/{soname}"));
            }
        }

        return lines;
    }

    /// <summary>Whether a line is one of these mounts (a bind of a host file that is not a device node).</summary>
    public static bool IsUserspaceLine(string key, string value) =>
        key == MountKey && value.EndsWith(Options, StringComparison.Ordinal) && !value.StartsWith("/dev/", StringComparison.Ordinal);

    /// <summary>The driver version the lines' versioned library names carry (<c>libcuda.so.580.159.04</c>), or null.</summary>
    public static string? VersionOf(IEnumerable<string> values) =>
        values.Select(v => VersionedName().Match(v)).Where(m => m.Success).Select(m => m.Groups["version"].Value).FirstOrDefault();

    private static PlannedLine Mount(string hostPath, string guestPath) => new(MountKey, $"{hostPath} {guestPath} {Options}");

    [GeneratedRegex(@"\.so\.(?<version>[0-9]+\.[0-9]+(\.[0-9]+)?) ")]
    private static partial Regex VersionedName();
}
