using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Deployment;

/// <summary>One Dockerfile instruction (continuation lines joined), in the stage it belongs to.</summary>
public sealed record DockerInstruction(string Stage, string Keyword, string Arguments);

/// <summary>The repository's Dockerfile, read the way docker reads it: enough of it to replay its stages here.</summary>
public sealed class Dockerfile
{
    private Dockerfile(IReadOnlyList<DockerInstruction> instructions) => Instructions = instructions;

    public IReadOnlyList<DockerInstruction> Instructions { get; }

    public static Dockerfile Load(string path)
    {
        var instructions = new List<DockerInstruction>();
        var stage = "";
        var logical = "";
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (logical.Length == 0 && (line.Length == 0 || line.StartsWith('#')))
            {
                continue;
            }

            logical += line.EndsWith('\\') ? line[..^1].TrimEnd() + " " : line;
            if (line.EndsWith('\\'))
            {
                continue;
            }

            var keyword = logical.Split(' ', 2)[0].ToUpperInvariant();
            var arguments = logical.Length > keyword.Length ? logical[keyword.Length..].Trim() : "";
            if (keyword == "FROM")
            {
                var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                stage = parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : $"#{instructions.Count(i => i.Keyword == "FROM")}";
            }

            instructions.Add(new DockerInstruction(stage, keyword, arguments));
            logical = "";
        }

        return new Dockerfile(instructions);
    }

    public IEnumerable<DockerInstruction> Stage(string name) => Instructions.Where(i => i.Stage == name);

    /// <summary>The last stage: the image that runs.</summary>
    public IEnumerable<DockerInstruction> RuntimeStage => Stage(Instructions.Last(i => i.Keyword == "FROM").Stage);

    /// <summary>ENV of a stage, in the <c>KEY=value</c> form (several pairs per instruction).</summary>
    public static Dictionary<string, string> Environment(IEnumerable<DockerInstruction> stage) =>
        stage.Where(i => i.Keyword == "ENV")
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1]);
}

/// <summary>
/// The Dockerfile's build stage replayed outside Docker, once for the test class: its COPY instructions copy from the
/// repository into a temporary directory that stands for its WORKDIR (leaving out what .dockerignore leaves out), and
/// its RUN instructions run there, with the output path the runtime stage copies from (<c>/out</c>) moved under it.
/// </summary>
public sealed class BuildStageOutput : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("gpulxc-image-").FullName;
    private readonly Lazy<string> _output;

    public BuildStageOutput() => _output = new Lazy<string>(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public Dockerfile Dockerfile { get; } = Dockerfile.Load(Path.Join(Repository.Root, "Dockerfile"));

    /// <summary>Where the build stage's <c>/out</c> (the source of the runtime stage's COPY --from) ended up.</summary>
    public string Output => _output.Value;

    /// <summary>The runtime stage's <c>COPY --from=STAGE SOURCE DESTINATION</c>.</summary>
    public (string Stage, string Source, string Destination) CopyFromBuild()
    {
        var copy = Dockerfile.RuntimeStage.Single(i => i.Keyword == "COPY" && i.Arguments.StartsWith("--from=", StringComparison.Ordinal));
        var parts = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (parts[0]["--from=".Length..], parts[1], parts[2]);
    }

    private string Build()
    {
        var (stage, source, _) = CopyFromBuild();
        var context = Path.Join(_work, "context");
        var ignored = File.ReadAllLines(Path.Join(Repository.Root, ".dockerignore"))
            .Select(line => line.Trim()).Where(line => line.Length > 0 && !line.StartsWith('#')).ToList();
        Assert.All(ignored, pattern => Assert.Matches(@"^(\*\*/)?[A-Za-z0-9._-]+$", pattern));

        foreach (var instruction in Dockerfile.Stage(stage))
        {
            switch (instruction.Keyword)
            {
                case "COPY":
                    var parts = instruction.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    Assert.DoesNotContain(parts, part => part.StartsWith("--", StringComparison.Ordinal));
                    foreach (var from in parts[..^1])
                    {
                        Copy(Path.Join(Repository.Root, from), Path.Join(context, parts[^1]), ignored, topLevel: true);
                    }

                    break;
                case "RUN":
                    var command = string.Join(' ', instruction.Arguments.Split(' ').Select(token => token == source ? _work + source : token));
                    var result = Processes.Run("/bin/sh", ["-c", command], context, Processes.WithoutMsBuildEnvironment());
                    Assert.True(result.ExitCode == 0, $"The build stage's `RUN {instruction.Arguments}` failed:\n{result.Output}");
                    break;
            }
        }

        return _work + source;
    }

    private static void Copy(string from, string toDirectory, List<string> ignored, bool topLevel)
    {
        var name = Path.GetFileName(from.TrimEnd('/'));
        if (ignored.Contains("**/" + name) || (topLevel && ignored.Contains(name)))
        {
            return;
        }

        Directory.CreateDirectory(toDirectory);
        if (File.Exists(from))
        {
            File.Copy(from, Path.Join(toDirectory, name));
            return;
        }

        Assert.True(Directory.Exists(from), $"The Dockerfile copies {from}, which does not exist.");
        foreach (var entry in Directory.EnumerateFileSystemEntries(from))
        {
            var target = Directory.Exists(entry) ? Path.Join(toDirectory, Path.GetFileName(entry)) : toDirectory;
            Copy(entry, target, ignored, topLevel: false);
        }
    }

    public void Dispose() => HostTree.DeleteDirectory(_work);
}

/// <summary>The published service run as a process (directly, or through what starts it), as a unit or an image would.</summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;

    public ServiceProcess(string program, IEnumerable<string> arguments, IDictionary<string, string> environment, string workingDirectory)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var inherited in start.Environment.Keys.Where(IsServiceSetting).ToList())
        {
            start.Environment.Remove(inherited);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Collect(e.Data);
        _process.ErrorDataReceived += (_, e) => Collect(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public ConcurrentQueue<string> Lines { get; } = new();

    public bool HasExited => _process.HasExited;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits until <paramref name="probe"/> succeeds; fails with the service's output when it exits or takes a minute.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> probe)
    {
        for (var started = Stopwatch.StartNew(); started.Elapsed < TimeSpan.FromMinutes(1); await Task.Delay(250))
        {
            Assert.False(_process.HasExited, "The service exited:\n" + string.Join('\n', Lines));
            if (await probe())
            {
                return;
            }
        }

        Assert.Fail("The service did not come up within a minute:\n" + string.Join('\n', Lines));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private static bool IsServiceSetting(string name) =>
        name.StartsWith("GpuLxc", StringComparison.OrdinalIgnoreCase) || name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase) ||
        name.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase) || name is "Urls" or "URLS" or "STATE_DIRECTORY";

    private void Collect(string? line)
    {
        if (line is not null)
        {
            Lines.Enqueue(line);
        }
    }
}

public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string Output => (StandardOutput + StandardError).Trim();
}

public static class Processes
{
    /// <summary>Runs a program to completion and returns whatever it did; the caller asserts.</summary>
    public static ProcessResult Run(string program, IEnumerable<string> arguments, string? workingDirectory = null, IDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return new ProcessResult(process.ExitCode, output.Result, error);
    }

    /// <summary>`dotnet test` hands its MSBuild location to the test host; a nested `dotnet publish` must find its own.</summary>
    public static Dictionary<string, string?> WithoutMsBuildEnvironment() =>
        System.Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(name => name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name == "DOTNET_HOST_PATH")
            .ToDictionary(name => name, _ => (string?)null);

    /// <summary>The full path of <paramref name="program"/> on PATH, or null.</summary>
    public static string? Find(string program) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Join(directory, program))
            .FirstOrDefault(File.Exists);
}

/// <summary>
/// A test that needs a tool .ci/run installs. Without the tool it is skipped with a message on a developer's machine,
/// and fails under CI (CI=true), where a missing tool is a broken .ci/run, not a reason to pass quietly.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresToolFactAttribute : FactAttribute
{
    public RequiresToolFactAttribute(string tool)
    {
        Tool = tool;
        if (Processes.Find(tool) is null && System.Environment.GetEnvironmentVariable("CI") != "true")
        {
            Skip = $"{tool} is not installed (apt-get install {Package(tool)}; .ci/run installs it, and under CI=true this test fails instead).";
        }
    }

    public string Tool { get; }

    /// <summary>The tool's path; under CI a missing tool fails the test here.</summary>
    public static string Require(string tool) =>
        Processes.Find(tool) ?? throw new InvalidOperationException($"{tool} is not installed: .ci/run must install the {Package(tool)} package.");

    private static string Package(string tool) => tool == "systemd-analyze" ? "systemd" : tool;
}
