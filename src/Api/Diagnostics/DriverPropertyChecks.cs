using GpuLxc.Api.HostAccess;
using GpuLxc.Api.Inventory;

namespace GpuLxc.Api.Diagnostics;

/// <summary>
/// Checks that test a driver property itself (issue 13, kind D): persistence mode as the driver reports it, not a
/// daemon's name; the signing key as enrolled in the firmware, not a signature's presence; a failed DKMS build with its
/// log, not only "no build".
/// </summary>
public sealed class DriverPropertyChecks(IHostCommandRunner commands, IHostFileSystem files)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// <c>nvidia-smi --query-gpu=persistence_mode</c>: <c>pass</c> when every GPU says Enabled, <c>warn</c> naming
    /// those that say Disabled. When nvidia-smi gives no such answer, whether nvidia-persistenced runs stands in, and the
    /// detail says that it was inferred.
    /// </summary>
    public async Task<DiagnosticCheck> PersistenceModeAsync(HostDriver driver, bool loaded, CancellationToken cancellationToken)
    {
        const string Id = "persistenced", Title = "Persistence mode keeps the GPU initialised";
        const string Fix = "`systemctl enable --now nvidia-persistenced` (or `nvidia-smi -pm 1` until the next reboot).";
        if (!loaded)
        {
            return Skip(Id, Title, "No driver is loaded.");
        }

        var modes = await RunAsync(["nvidia-smi", "--query-gpu=persistence_mode", "--format=csv,noheader"], cancellationToken);
        var lines = modes?.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        if (lines.Length > 0 && lines.All(l => l is "Enabled" or "Disabled"))
        {
            var disabled = lines.Select((mode, index) => (mode, index)).Where(m => m.mode == "Disabled").Select(m => m.index).ToList();
            return disabled.Count == 0
                ? new DiagnosticCheck(Id, Title, CheckStatus.Pass, $"nvidia-smi reports persistence mode Enabled on {lines.Length} GPU(s).", null)
                : new DiagnosticCheck(Id, Title, CheckStatus.Warn,
                    $"nvidia-smi reports persistence mode Disabled on GPU {string.Join(", ", disabled)}{(driver.PersistencedRunning ? " although nvidia-persistenced runs" : "")}: " +
                    "the GPU is re-initialised for every first client, adding seconds of latency.", Fix);
        }

        return driver.PersistencedRunning
            ? new DiagnosticCheck(Id, Title, CheckStatus.Pass, "nvidia-smi did not report persistence mode; nvidia-persistenced is running, which enables it.", null)
            : new DiagnosticCheck(Id, Title, CheckStatus.Warn,
                "nvidia-smi did not report persistence mode and nvidia-persistenced is not running: the GPU is re-initialised for every first client, adding seconds of latency.", Fix);
    }

    /// <summary>
    /// With Secure Boot on, the module must be signed by a key the firmware trusts: the signer (<c>modinfo</c>) is
    /// looked up in <c>mokutil --list-enrolled</c> (and <c>--list-new</c>: enrolled at the next reboot).
    /// </summary>
    public async Task<DiagnosticCheck> SecureBootAsync(HostDriver driver, CancellationToken cancellationToken)
    {
        const string Id = "secure-boot", Title = "Secure Boot will load the module";
        const string Enroll = "Enroll the signing key: `mokutil --import /var/lib/dkms/mok.pub`, then confirm it in the MOK manager at the next boot; or disable Secure Boot.";
        switch (driver.SecureBoot)
        {
            case "unknown":
                return new DiagnosticCheck(Id, Title, CheckStatus.Warn, "The Secure Boot state could not be read.", "Check with `mokutil --sb-state`.");
            case not "enabled":
                return new DiagnosticCheck(Id, Title, CheckStatus.Pass, $"Secure Boot is {driver.SecureBoot}.", null);
        }

        if (driver.ModuleSigner is not { } signer)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Fail, "Secure Boot is enabled and the nvidia module is not signed: the kernel refuses to load it.",
                "Sign the module with an enrolled MOK (DKMS does this once `mokutil --import /var/lib/dkms/mok.pub` is done and confirmed at reboot), or disable Secure Boot.");
        }

        if (commands.FindExecutable("mokutil") is null)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Warn,
                $"Secure Boot is enabled and the module is signed by \"{signer}\", but mokutil is not installed, so whether that key is enrolled is unknown.",
                "`apt install mokutil`, then `mokutil --list-enrolled` must list the key.");
        }

        if ((await RunAsync(["mokutil", "--list-enrolled"], cancellationToken))?.Contains(signer, StringComparison.OrdinalIgnoreCase) == true)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Pass, $"Secure Boot is enabled and the module's signing key \"{signer}\" is enrolled (mokutil --list-enrolled).", null);
        }

        return (await RunAsync(["mokutil", "--list-new"], cancellationToken))?.Contains(signer, StringComparison.OrdinalIgnoreCase) == true
            ? new DiagnosticCheck(Id, Title, CheckStatus.Warn, $"The signing key \"{signer}\" is queued for enrollment but not enrolled: the module loads only after the reboot that confirms it.",
                "Reboot and confirm the enrollment in the MOK manager (blue screen) with the password given to `mokutil --import`.")
            : new DiagnosticCheck(Id, Title, CheckStatus.Fail, $"The module is signed by \"{signer}\", which mokutil --list-enrolled does not list: the kernel refuses to load it.", Enroll);
    }

    /// <summary>
    /// <c>pass</c> when DKMS has installed the module for the running kernel; else <c>fail</c>, with the end of the
    /// build's make.log when a build was tried and failed.
    /// </summary>
    public async Task<DiagnosticCheck> DkmsAsync(HostDriver driver, CancellationToken cancellationToken)
    {
        const string Id = "dkms-built", Title = "DKMS has built the module for the running kernel";
        if (driver.Dkms is null || driver.Dkms.Count == 0)
        {
            return Skip(Id, Title, driver.Dkms is null ? "DKMS is not installed." : "The nvidia module is not managed by DKMS.");
        }

        var kernel = driver.Headers.Kernel;
        var built = driver.Dkms.Where(e => e.Kernel == kernel && e.Status.StartsWith("installed", StringComparison.Ordinal)).ToList();
        if (built.Count > 0)
        {
            return new DiagnosticCheck(Id, Title, CheckStatus.Pass, $"{built[0].Module}/{built[0].Version} is installed for {built[0].Kernel}.", null);
        }

        var detail = $"DKMS has no installed build for {kernel}: {string.Join("; ", driver.Dkms.Select(e => $"{e.Module}/{e.Version} {e.Kernel} {e.Status}"))}.";
        foreach (var entry in driver.Dkms.DistinctBy(e => (e.Module, e.Version)))
        {
            if (await BuildLogAsync(entry, kernel, cancellationToken) is { } log)
            {
                return new DiagnosticCheck(Id, Title, CheckStatus.Fail, $"{detail} The build failed; {log.Path} ends: {log.Tail}",
                    $"Fix what the log names (often headers that do not match {kernel}, or a driver too old for the kernel), then `dkms autoinstall -k {kernel}`.");
            }
        }

        return new DiagnosticCheck(Id, Title, CheckStatus.Fail, detail, $"Install the headers for {kernel}, then `dkms autoinstall -k {kernel}`.");
    }

    /// <summary>DKMS 3 keeps a failed build's log under the kernel's directory, DKMS 2 in <c>build/</c>.</summary>
    private async Task<(string Path, string Tail)?> BuildLogAsync(DkmsEntry entry, string? kernel, CancellationToken cancellationToken)
    {
        var root = $"/var/lib/dkms/{entry.Module}/{entry.Version}";
        foreach (var path in new[] { $"{root}/{kernel}/{entry.Architecture ?? "x86_64"}/log/make.log", $"{root}/build/make.log" })
        {
            if (await files.TryReadTextAsync(path, cancellationToken) is { } text)
            {
                var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var errors = lines.Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)).TakeLast(3).ToList();
                return (path, string.Join(" | ", errors.Count > 0 ? errors : lines.TakeLast(3)));
            }
        }

        return null;
    }

    private async Task<string?> RunAsync(string[] argv, CancellationToken cancellationToken)
    {
        var program = argv[0];
        if (commands.FindExecutable(program) is null)
        {
            return null;
        }

        try
        {
            var result = await commands.RunAsync(new HostCommand(program, argv[1..]) { Timeout = Timeout }, cancellationToken);
            return result.Succeeded ? result.StandardOutput : null;
        }
        catch (HostCommandTimeoutException)
        {
            return null;
        }
    }

    private static DiagnosticCheck Skip(string id, string title, string detail) => new(id, title, CheckStatus.Skip, detail, null);
}
