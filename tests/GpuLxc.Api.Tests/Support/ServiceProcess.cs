using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;

namespace GpuLxc.Api.Tests.Support;

/// <summary>
/// The built service (<c>GpuLxc.Api.dll</c> from this test project's output, which references src/Api) run as a real
/// process over a prepared host tree and data dir, listening on a loopback port — for tests that kill it with
/// SIGKILL, which an in-process <see cref="GpuLxcApiFactory"/> cannot survive. Disposing kills it if it still runs.
/// </summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringWriter _output = new();

    /// <param name="host">The host tree (<c>GpuLxc:Host:Root</c> and its stub commands).</param>
    /// <param name="dataDir">The data dir; the same one again for a restart.</param>
    /// <param name="port">The loopback port to listen on.</param>
    /// <param name="environment">Extra environment variables (<c>GPULXC_TEST_CRASH_AT</c>).</param>
    public ServiceProcess(HostTree host, string dataDir, int port, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Settings the test runner's environment may carry would change what is started.
        foreach (var inherited in start.Environment.Keys.Where(IsServiceSetting).ToList())
        {
            start.Environment.Remove(inherited);
        }

        start.ArgumentList.Add(Path.Join(AppContext.BaseDirectory, "GpuLxc.Api.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(BaseAddress(port).ToString());
        start.Environment["GpuLxc__Host__Root"] = host.Root;
        start.Environment["GpuLxc__Host__BinPath"] = host.BinDir;
        start.Environment["GpuLxc__DataDir"] = dataDir;
        start.Environment["GpuLxc__Auth__ApiKeys__admin__Key"] = TestKeys.Admin;
        start.Environment["GpuLxc__Auth__ApiKeys__admin__Scopes"] = "admin";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        Started = Stopwatch.StartNew();
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Http = new HttpClient { BaseAddress = BaseAddress(port), Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestKeys.Admin);
    }

    /// <summary>Started with the process.</summary>
    public Stopwatch Started { get; }

    /// <summary>A client with the admin key.</summary>
    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>What the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Waits until <c>/healthz</c> answers 200.</summary>
    /// <exception cref="InvalidOperationException">The process exited first, or 60 s passed.</exception>
    public async Task WaitUntilAnsweringAsync()
    {
        while (Started.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The service exited with {_process.ExitCode} before answering:\n{Output}");
            }

            try
            {
                using var response = await Http.GetAsync(new Uri("/healthz", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException($"The service did not answer within 60 s:\n{Output}");
    }

    /// <summary>Waits for the process to end (a self-inflicted SIGKILL); its exit code, 137 for SIGKILL.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
        Http.Dispose();
    }

    private static bool IsServiceSetting(string name) =>
        name.StartsWith("GpuLxc", StringComparison.OrdinalIgnoreCase) || name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase) ||
        name.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase) || name is "DOTNET_ENVIRONMENT" or "Urls" or "URLS" or "STATE_DIRECTORY";

    private static Uri BaseAddress(int port) => new($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.WriteLine(line);
            }
        }
    }
}
