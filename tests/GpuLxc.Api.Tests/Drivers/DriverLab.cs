using GpuLxc.Api.Tests.Support;
using GpuLxc.Client;

namespace GpuLxc.Api.Tests.Drivers;

/// <summary>
/// The demo Proxmox VE 8.2 node (RTX 3060, module 550.127.05 loaded and installed) with stub commands that append
/// their argv to <see cref="Log"/>, one line per call, and then do what the test says: succeed, fail with stderr, or
/// hang. <c>pct exec ID -- CMD …</c> runs the stub <c>guest/CMD</c> when there is one (the container's side),
/// else succeeds silently; <c>pct push</c> copies the file to <c>pushed/</c>.
/// </summary>
public sealed class DriverLab : IDisposable
{
    public const string HostVersion = "550.127.05";
    public const string Kernel = "6.8.12-4-pve";

    public const string UbuntuNoble = "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n";
    public const string DebianBookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
    public const string Alpine = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n";

    public DriverLab()
    {
        Host = ContainerHosts.Pve8();
        Directory.CreateDirectory(Path.Join(Host.BinDir, "guest"));
        Directory.CreateDirectory(Path.Join(Host.BinDir, "pushed"));
        Host.WithCommand("pct", Recording("pct") + """
            dir=$(dirname "$0")
            case "$1" in
              list) echo "VMID       Status     Lock         Name"
                    for f in "$dir"/pct-state/*; do [ -e "$f" ] && echo "$(basename "$f")        $(cat "$f")                 ct"; done; exit 0 ;;
              status) echo "status: $(cat "$dir/pct-state/$2" 2>/dev/null || echo stopped)" ;;
              exec) shift 3; cmd="$1"; shift
                    [ -x "$dir/guest/$cmd" ] && exec "$dir/guest/$cmd" "$@"; exit 0 ;;
              push) cp "$3" "$dir/pushed/$(basename "$4")" ;;
              reboot) echo "reboot $2" >> "$dir/pct.log" ;;
              *) echo "stub pct: $*" >&2; exit 2 ;;
            esac
            """);
        foreach (var name in (string[])["apt-get", "apt-cache", "update-initramfs", "udevadm", "systemctl", "nvidia-detect"])
        {
            Stub(name, "exit 0");
        }

        Stub("modinfo", $"[ \"$2\" = version ] && echo {HostVersion}; exit 0");
        Stub("nvidia-smi", """
            case "$1" in
              --query-gpu=*) echo "0, GPU-8c2b1f3e-6a4d-4e0b-9f1c-2d3e4f5a6b7c, NVIDIA GeForce RTX 3060, 00000000:01:00.0, 550.127.05, 94.06.2F.00.9A, 1, 58, 2410, 9" ;;
              *) echo "GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-8c2b1f3e-6a4d-4e0b-9f1c-2d3e4f5a6b7c)" ;;
            esac
            """);
        Stub("nvidia-detect", "printf 'Detected NVIDIA GPUs:\\n01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GA106 [GeForce RTX 3060] [10de:2504]\\n\\nChecking card:  NVIDIA Corporation GA106\\nYour card is supported by all driver versions.\\nIt is recommended to install the\\n    nvidia-driver\\npackage.\\n'");
        Guest("cat", $"[ \"$1\" = /etc/os-release ] && printf '%s' '{UbuntuNoble}'");
        Guest("env", """
            while [ "${1#*=}" != "$1" ]; do shift; done
            cmd="$1"; shift
            [ -x "$(dirname "$0")/$cmd" ] && exec "$(dirname "$0")/$cmd" "$@"; exit 0
            """);
        Guest("ls", """
            shift; for node in "$@"; do case "$node" in
              *libnvidia-ml.so.1) echo "lrwxrwxrwx 1 root root 26 Nov 23 12:00 $node -> $(cat "$(dirname "$0")/../guest-link")" ;;
              *) echo "crw-rw-rw- 1 root root 195, 0 Nov 23 12:00 $node" ;;
            esac; done
            """);
        Guest("find", "[ -f \"$(dirname \"$0\")/../guest-lib\" ] && cat \"$(dirname \"$0\")/../guest-lib\"; exit 0");
        Guest("nvidia-smi", "v=$(cat \"$(dirname \"$0\")/../guest-version\" 2>/dev/null) || { echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'; exit 9; }; echo \"$v\"");
    }

    public HostTree Host { get; }

    /// <summary>
    /// Every recorded command line, in order: the commands the test's own requests caused. The read-only queries that
    /// the inventory and the metrics refresh run on their own schedule (GPU queries, modinfo, pct list) are left out,
    /// and so is a line a stub is still writing: only lines that end in a newline are whole.
    /// </summary>
    public IReadOnlyList<string> Commands => WholeLines().Where(line => !InventoryQueries.Any(query => line.StartsWith(query, StringComparison.Ordinal))).ToList();

    private static readonly string[] InventoryQueries = ["nvidia-smi --query-gpu=", "modinfo -F ", "pct list"];

    public string Log => Path.Join(Host.BinDir, "commands.log");

    /// <summary>A host command: records its argv, then runs <paramref name="behaviour"/> (sh).</summary>
    public DriverLab Stub(string name, string behaviour)
    {
        Host.WithCommand(name, Recording(name) + behaviour);
        return this;
    }

    /// <summary>A command inside every container (reached through <c>pct exec</c>, which records the argv).</summary>
    public DriverLab Guest(string name, string behaviour)
    {
        Host.WithCommand(Path.Join("guest", name), behaviour);
        return this;
    }

    /// <summary>
    /// What the container's libnvidia-ml is (for find: the versioned file and libnvidia-ml.so.1 linking to it, as
    /// installers leave them), and what its nvidia-smi reports (null: it fails).
    /// </summary>
    public DriverLab GuestDriver(string? library, string? smiReports)
    {
        SetOrDelete("guest-lib", library is null ? null : $"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.{library}\n/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1\n");
        SetOrDelete("guest-link", library is null ? null : $"libnvidia-ml.so.{library}");
        SetOrDelete("guest-version", smiReports is null ? null : smiReports + "\n");
        return this;
    }

    /// <summary>A stub that starts a child that sleeps (its pid in <paramref name="name"/>.pid) and waits for it: a hung command with a process tree.</summary>
    public string Hang(string name)
    {
        var pidFile = Path.Join(Host.BinDir, $"{name}.pid");
        Stub(name, $"sleep 300 & echo $! > '{pidFile}'; wait");
        return pidFile;
    }

    public static async Task<int> WaitForPidAsync(string pidFile)
    {
        for (var i = 0; i < 200; i++)
        {
            if (File.Exists(pidFile) && int.TryParse((await File.ReadAllTextAsync(pidFile)).Trim(), out var pid))
            {
                return pid;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"{pidFile} was not written: the command never started.");
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid}/status").Contains("State:\tZ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Whether the process is gone within a few seconds (SIGKILL is delivered asynchronously).</summary>
    public static async Task<bool> EndsAsync(int pid)
    {
        for (var i = 0; i < 100 && IsAlive(pid); i++)
        {
            await Task.Delay(50);
        }

        return !IsAlive(pid);
    }

    /// <summary>Attaches the GPU to container 101 (running) through the API.</summary>
    public static async Task AttachAsync(IGpuLxcClient client, string containerId = "101") =>
        await client.AttachGpuAsync(containerId, new AttachRequest());

    public static async Task<Job> WaitAsync(IGpuLxcClient client, string jobId)
    {
        Job? job = null;
        for (var i = 0; i < 20; i++)
        {
            job = await client.GetJobAsync(jobId, waitSeconds: 5);
            if (job.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled)
            {
                return job;
            }
        }

        throw new TimeoutException($"Job {jobId} did not finish within 100 s: {job!.State}, steps " +
                                   string.Join(", ", job.Steps.Select(s => $"{s.Name} {s.State}")));
    }

    /// <summary>Waits until the job's step runs (its command has started).</summary>
    public static async Task WaitForStepAsync(IGpuLxcClient client, string jobId, string step)
    {
        Job? job = null;
        for (var i = 0; i < 1200; i++)
        {
            job = await client.GetJobAsync(jobId);
            if (job.Steps.Any(s => s.Name == step && s.State == JobStepState.Running))
            {
                return;
            }

            if (job.State is JobState.Succeeded or JobState.Failed or JobState.Cancelled)
            {
                throw new InvalidOperationException($"Job {jobId} ended {job.State} before step {step} ran: {job.Error?.Message}");
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"Step {step} of job {jobId} did not start within 60 s: {job!.State}, steps " +
                                   string.Join(", ", job.Steps.Select(s => $"{s.Name} {s.State}")));
    }

    /// <summary>A stub started just before the service stopped may still be writing its log line: retry a moment.</summary>
    public void Dispose()
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Host.Dispose();
                return;
            }
            catch (IOException) when (attempt < 20)
            {
                Thread.Sleep(100);
            }
        }
    }

    private void SetOrDelete(string name, string? content)
    {
        var path = Path.Join(Host.BinDir, name);
        if (content is null)
        {
            File.Delete(path);
        }
        else
        {
            File.WriteAllText(path, content);
        }
    }

    /// <summary>
    /// The argv as one line, appended with one write: stubs run concurrently (a request's command beside a background
    /// refresh), and a line written piecemeal could interleave with another or be read half-written.
    /// </summary>
    private string Recording(string name) =>
        $"recorded_argv='{name}'; for a in \"$@\"; do recorded_argv=\"$recorded_argv $a\"; done; printf '%s\\n' \"$recorded_argv\" >> '{Log}'\n";

    private string[] WholeLines()
    {
        var text = File.Exists(Log) ? File.ReadAllText(Log) : "";
        var end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n');
    }
}
