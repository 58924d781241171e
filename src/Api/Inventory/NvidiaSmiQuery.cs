using System.Globalization;
using GpuLxc.Api.HostAccess;

namespace GpuLxc.Api.Inventory;

/// <summary>One row of <c>nvidia-smi --query-gpu</c>.</summary>
public sealed record NvidiaSmiGpu(
    int Index,
    string Uuid,
    string Name,
    string PciAddress,
    string DriverVersion,
    string? Vbios,
    int? EncoderSessions,
    int? EncoderAverageFps,
    int? EncoderAverageLatency,
    int? EncoderUtilization);

/// <summary>The fallback when NVML cannot be used: one <c>nvidia-smi --query-gpu</c> call (tens of milliseconds).</summary>
public sealed class NvidiaSmiQuery(IHostCommandRunner commands)
{
    public const string Fields =
        "index,uuid,name,pci.bus_id,driver_version,vbios_version," +
        "encoder.stats.sessionCount,encoder.stats.averageFps,encoder.stats.averageLatency,utilization.encoder";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public bool IsInstalled => commands.FindExecutable("nvidia-smi") is not null;

    /// <summary>The GPUs nvidia-smi lists, or the reason it could not list them.</summary>
    public async Task<(IReadOnlyList<NvidiaSmiGpu> Gpus, string? Error)> QueryAsync(CancellationToken cancellationToken)
    {
        try
        {
            var result = await commands.RunAsync(
                new HostCommand("nvidia-smi", $"--query-gpu={Fields}", "--format=csv,noheader,nounits") { Timeout = Timeout },
                cancellationToken);
            if (!result.Succeeded)
            {
                var message = (result.StandardOutput + result.StandardError).Trim();
                return ([], $"nvidia-smi exited with {result.ExitCode}: {message}");
            }

            return (Parse(result.StandardOutput), null);
        }
        catch (Exception e) when (e is HostCommandNotFoundException or HostCommandTimeoutException)
        {
            return ([], e.Message);
        }
    }

    public static IReadOnlyList<NvidiaSmiGpu> Parse(string csv)
    {
        var gpus = new List<NvidiaSmiGpu>();
        foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var cells = line.Split(',', StringSplitOptions.TrimEntries);
            if (cells.Length < 10 || !int.TryParse(cells[0], CultureInfo.InvariantCulture, out var index))
            {
                continue;
            }

            gpus.Add(new NvidiaSmiGpu(index, cells[1], cells[2], PciAddress.Normalize(cells[3]) ?? cells[3], cells[4],
                Value(cells[5]), Number(cells[6]), Number(cells[7]), Number(cells[8]), Number(cells[9])));
        }

        return gpus;
    }

    /// <summary>nvidia-smi writes <c>[N/A]</c> or <c>[Not Supported]</c> for what it cannot tell.</summary>
    private static string? Value(string cell) => cell.StartsWith('[') || cell.Length == 0 ? null : cell;

    private static int? Number(string cell) =>
        int.TryParse(Value(cell), NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number : null;
}
