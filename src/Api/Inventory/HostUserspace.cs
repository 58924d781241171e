using System.Text.RegularExpressions;

namespace GpuLxc.Api.Inventory;

/// <summary>The parts of the driver's userspace a container can be given, by NVIDIA's own capability names.</summary>
public enum DriverCapability
{
    /// <summary><c>nvidia-smi</c> and NVML (<c>libnvidia-ml</c>).</summary>
    Utility,

    /// <summary>CUDA: <c>libcuda</c>, the PTX JIT, NVVM, the debugger, OpenCL, MPS.</summary>
    Compute,

    /// <summary>NVENC, NVDEC and the optical flow library.</summary>
    Video,

    /// <summary>OpenGL, EGL, GLES and Vulkan's libraries (not their ICD JSON files).</summary>
    Graphics,
}

/// <summary>One file of the driver's userspace on the host.</summary>
/// <param name="HostPath">Where it is on the host, e.g. <c>/usr/local/nvidia/lib64/libcuda.so.580.159.04</c>.</param>
/// <param name="Name">Its name, e.g. <c>libcuda.so.580.159.04</c> or <c>nvidia-smi</c>.</param>
/// <param name="Soname">The name programs load it by (<c>libcuda.so.1</c>); null for executables and for libraries
/// whose SONAME is their versioned name.</param>
/// <param name="Capability">The capability it belongs to.</param>
/// <param name="Executable">A program (bound into <c>/usr/bin</c>), not a library.</param>
public sealed record UserspaceFile(string HostPath, string Name, string? Soname, DriverCapability Capability, bool Executable);

/// <summary>The loaded driver's userspace files on the host.</summary>
/// <param name="Version">The loaded module's version (<see cref="LoadedDriver"/>): every file is of this version.</param>
/// <param name="Source">Where the list came from: the CDI spec's path, or <c>search</c> (GpuLxc's own discovery).</param>
/// <param name="Files">The files found, ordered by capability then name; a capability with none is absent.</param>
/// <param name="Notes">What was skipped and why (a stale CDI spec, an unreadable one).</param>
public sealed record HostUserspace(string Version, string Source, IReadOnlyList<UserspaceFile> Files, IReadOnlyList<string> Notes)
{
    public IEnumerable<UserspaceFile> Of(DriverCapability capability) => Files.Where(f => f.Capability == capability);
}

/// <summary>
/// Which driver files make up each capability, after libnvidia-container's lists (its <c>nvc_info.c</c>) that the
/// NVIDIA container toolkit's CDI specs follow. The SONAMEs are fixed across releases (NVIDIA keeps them so that
/// programs built against one driver load with the next); the table names them rather than reading each ELF header,
/// which would mean reading a 100 MB <c>libcuda</c> on every plan.
/// </summary>
public static partial class DriverFiles
{
    /// <summary>A library by its stem (<c>libcuda</c>): its SONAME's suffix (<c>1</c>), or null when the versioned name is the SONAME.</summary>
    public sealed record Library(string Stem, string? SonameSuffix, DriverCapability Capability)
    {
        public string FileName(string version) => $"{Stem}.so.{version}";

        public string? Soname => SonameSuffix is null ? null : $"{Stem}.so.{SonameSuffix}";
    }

    public static readonly IReadOnlyList<Library> Libraries =
    [
        new Library("libnvidia-ml", "1", DriverCapability.Utility),
        new Library("libnvidia-cfg", "1", DriverCapability.Utility),
        new Library("libcuda", "1", DriverCapability.Compute),
        new Library("libcudadebugger", "1", DriverCapability.Compute),
        new Library("libnvidia-ptxjitcompiler", "1", DriverCapability.Compute),
        new Library("libnvidia-nvvm", "4", DriverCapability.Compute),
        new Library("libnvidia-gpucomp", null, DriverCapability.Compute),
        new Library("libnvidia-opencl", "1", DriverCapability.Compute),
        new Library("libnvidia-encode", "1", DriverCapability.Video),
        new Library("libnvcuvid", "1", DriverCapability.Video),
        new Library("libnvidia-opticalflow", "1", DriverCapability.Video),
        new Library("libvdpau_nvidia", "1", DriverCapability.Video),
        new Library("libGLX_nvidia", "0", DriverCapability.Graphics),
        new Library("libEGL_nvidia", "0", DriverCapability.Graphics),
        new Library("libGLESv2_nvidia", "2", DriverCapability.Graphics),
        new Library("libGLESv1_CM_nvidia", "1", DriverCapability.Graphics),
        new Library("libnvidia-eglcore", null, DriverCapability.Graphics),
        new Library("libnvidia-glcore", null, DriverCapability.Graphics),
        new Library("libnvidia-glsi", null, DriverCapability.Graphics),
        new Library("libnvidia-tls", null, DriverCapability.Graphics),
        new Library("libnvidia-glvkspirv", null, DriverCapability.Graphics),
        new Library("libnvidia-rtcore", null, DriverCapability.Graphics),
        new Library("libnvoptix", "1", DriverCapability.Graphics),
        new Library("libnvidia-fbc", "1", DriverCapability.Graphics),
    ];

    /// <summary>The driver's programs a container may run, by capability (the persistence daemon is the host's alone).</summary>
    public static readonly IReadOnlyList<(string Name, DriverCapability Capability)> Executables =
    [
        ("nvidia-smi", DriverCapability.Utility),
        ("nvidia-debugdump", DriverCapability.Utility),
        ("nvidia-cuda-mps-control", DriverCapability.Compute),
        ("nvidia-cuda-mps-server", DriverCapability.Compute),
    ];

    /// <summary>The file <paramref name="path"/> names, when it is one of the driver's of <paramref name="version"/>; else null.</summary>
    public static UserspaceFile? Classify(string path, string version)
    {
        var name = Path.GetFileName(path);
        if (Libraries.FirstOrDefault(l => l.FileName(version) == name) is { } library)
        {
            return new UserspaceFile(path, name, library.Soname, library.Capability, Executable: false);
        }

        return Executables.Where(e => e.Name == name).Select(e => new UserspaceFile(path, name, null, e.Capability, Executable: true)).FirstOrDefault();
    }

    /// <summary>Whether <paramref name="name"/> is a driver library of a version other than <paramref name="version"/> (a stale list).</summary>
    public static bool IsOtherVersion(string name, string version) =>
        VersionedLibrary().Match(name) is { Success: true } match && match.Groups["version"].Value != version
        && Libraries.Any(l => l.Stem == match.Groups["stem"].Value);

    [GeneratedRegex(@"^(?<stem>lib[A-Za-z0-9_-]+)\.so\.(?<version>[0-9]+\.[0-9]+(\.[0-9]+)?)$")]
    private static partial Regex VersionedLibrary();
}
