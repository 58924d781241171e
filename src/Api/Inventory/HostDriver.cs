namespace GpuLxc.Api.Inventory;

/// <summary>The NVIDIA driver on the host: what is loaded, what is installed, and what containers will need.</summary>
/// <param name="LoadedVersion">The running kernel module's version (<c>/proc/driver/nvidia/version</c>); null when none is loaded.</param>
/// <param name="Flavor">Open or proprietary kernel module.</param>
/// <param name="ModuleVersion"><c>/sys/module/nvidia/version</c>.</param>
/// <param name="InstalledVersion">The module on disk for the running kernel (<c>modinfo -F version nvidia</c>).</param>
/// <param name="UserspaceVersion">The userspace library's version as it loads: what NVML or nvidia-smi reports, else the file <c>libnvidia-ml.so.1</c> links to; null when none of them tells.</param>
/// <param name="RebootRequired">The installed module differs from the loaded one: the new driver runs after a reboot.</param>
/// <param name="Modules">The kernel modules that matter, loaded or not.</param>
/// <param name="ModulesLoad">Whether <c>/etc/modules-load.d</c> loads the modules at boot.</param>
/// <param name="UdevRules">udev rules that mention the NVIDIA modules (to create the device nodes).</param>
/// <param name="DeviceNodes">The device nodes containers use, with their real majors.</param>
/// <param name="DeviceNodesComplete">Every required node exists with the major <c>/proc/devices</c> lists.</param>
/// <param name="Dkms">DKMS entries for nvidia; null when DKMS is not installed.</param>
/// <param name="Headers">Kernel headers for the running kernel (needed to build the module).</param>
/// <param name="SecureBoot">Secure Boot state: <c>enabled</c>, <c>disabled</c>, <c>unsupported</c> (no EFI) or <c>unknown</c>.</param>
/// <param name="ModuleSigner">The signer of the module on disk; null when unsigned or unknown.</param>
/// <param name="PersistencedRunning">Whether nvidia-persistenced runs (keeps the GPU initialised between clients).</param>
/// <param name="Notes">What could not be read, and why.</param>
/// <param name="UserspaceError">NVML's or nvidia-smi's own error text when neither answered (<c>Failed to initialize NVML: Driver/library version mismatch</c>); null when one did.</param>
public sealed record HostDriver(
    string? LoadedVersion,
    DriverFlavor? Flavor,
    string? ModuleVersion,
    string? InstalledVersion,
    string? UserspaceVersion,
    bool RebootRequired,
    IReadOnlyList<KernelModule> Modules,
    ModulesLoadState ModulesLoad,
    IReadOnlyList<string> UdevRules,
    IReadOnlyList<DeviceNode> DeviceNodes,
    bool DeviceNodesComplete,
    IReadOnlyList<DkmsEntry>? Dkms,
    KernelHeaders Headers,
    string SecureBoot,
    string? ModuleSigner,
    bool PersistencedRunning,
    IReadOnlyList<string> Notes,
    string? UserspaceError);

public sealed record KernelModule(string Name, bool Loaded);

/// <param name="Files">modules-load.d files that list an NVIDIA module.</param>
/// <param name="Nvidia">Whether <c>nvidia</c> is loaded at boot.</param>
/// <param name="NvidiaUvm">Whether <c>nvidia_uvm</c> (CUDA) is loaded at boot.</param>
public sealed record ModulesLoadState(IReadOnlyList<string> Files, bool Nvidia, bool NvidiaUvm);

/// <summary>One line of <c>dkms status</c>, e.g. <c>nvidia/580.159.04, 6.8.12-4-pve, x86_64: installed</c>.</summary>
public sealed record DkmsEntry(string Module, string Version, string? Kernel, string? Architecture, string Status);

/// <param name="Kernel">The running kernel release.</param>
/// <param name="Present">Whether <c>/lib/modules/&lt;kernel&gt;/build</c> exists.</param>
/// <param name="Path">The headers' path.</param>
public sealed record KernelHeaders(string? Kernel, bool Present, string? Path);
