using System.Text.Json;
using System.Text.RegularExpressions;
using Tomlyn;
using Tomlyn.Model;
using YamlDotNet.Core;
using Version = System.Version;
using YamlDotNet.RepresentationModel;

namespace GpuLxc.Api.Drivers;

/// <summary>
/// What <c>/etc/nvidia-container-runtime/config.toml</c> says for the runtime's path into a container.
/// </summary>
/// <param name="NoCgroups"><c>nvidia-container-cli.no-cgroups</c>; false when absent (the toolkit's default).</param>
/// <param name="Mode"><c>nvidia-container-runtime.mode</c>: <c>auto</c> (the default when absent), <c>legacy</c>, <c>cdi</c> or <c>csv</c>.</param>
/// <param name="Error">Why the file does not parse (Tomlyn's message with its line and column); then the other fields are the defaults.</param>
public sealed record ToolkitRuntimeConfig(bool NoCgroups, string Mode, string? Error = null);

/// <summary>What Docker's <c>/etc/docker/daemon.json</c> says about NVIDIA's runtime and CDI.</summary>
/// <param name="NvidiaRuntime">Whether <c>runtimes.nvidia</c> is registered.</param>
/// <param name="DefaultRuntime"><c>default-runtime</c>; null when absent (Docker's own <c>runc</c>).</param>
/// <param name="CdiFeature"><c>features.cdi</c>; null when absent (Docker's default for its version then applies).</param>
/// <param name="Error">Why the file does not parse (System.Text.Json's message); Docker refuses to start with it.</param>
public sealed record DockerDaemonConfig(bool NvidiaRuntime, string? DefaultRuntime, bool? CdiFeature, string? Error = null);

/// <summary>The driver versions a CDI spec was generated for, read from the versioned library names it mounts.</summary>
/// <param name="DriverVersions">Distinct versions of <c>libcuda.so.VERSION</c> / <c>libnvidia-ml.so.VERSION</c> in its paths, ascending; empty when it names none.</param>
/// <param name="Error">Why the spec does not parse, or lacks <c>cdiVersion</c>/<c>kind</c>.</param>
public sealed record CdiSpecDrivers(IReadOnlyList<string> DriverVersions, string? Error = null);

/// <summary>Parsers for the files of the NVIDIA Container Toolkit and Docker inside a guest; pure, so unit-testable.</summary>
public static partial class ToolkitFiles
{
    public const string RuntimeConfigPath = "/etc/nvidia-container-runtime/config.toml";
    public const string DockerDaemonPath = "/etc/docker/daemon.json";

    /// <summary>Where CDI-aware engines look for specs (<c>/etc/cdi</c> first, then <c>/var/run/cdi</c>), in the order read.</summary>
    public static readonly IReadOnlyList<string> CdiSpecPaths =
        ["/etc/cdi/nvidia.yaml", "/etc/cdi/nvidia.json", "/var/run/cdi/nvidia.yaml", "/var/run/cdi/nvidia.json"];

    /// <summary>The packages whose versions make up an installed toolkit (Debian/Ubuntu names).</summary>
    public static readonly IReadOnlyList<string> Packages = ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools", "libnvidia-container1"];

    /// <summary>Parses config.toml with a TOML parser; an empty file is all defaults; a parse error is returned, never thrown.</summary>
    public static ToolkitRuntimeConfig ParseRuntimeConfig(string toml)
    {
        TomlTable model;
        try
        {
            model = TomlSerializer.Deserialize<TomlTable>(toml) ?? new TomlTable();
        }
        catch (TomlException e)
        {
            return new ToolkitRuntimeConfig(false, "auto", e.Message);
        }

        var noCgroups = Table(model, "nvidia-container-cli")?.TryGetValue("no-cgroups", out var value) == true && value is true;
        var mode = Table(model, "nvidia-container-runtime")?.TryGetValue("mode", out var raw) == true && raw is string text ? text : "auto";
        return new ToolkitRuntimeConfig(noCgroups, mode);
    }

    /// <summary>Parses daemon.json (JSON, comments not allowed: Docker's own parser refuses them).</summary>
    public static DockerDaemonConfig ParseDaemonJson(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new DockerDaemonConfig(false, null, null, "the top level is not an object");
            }

            var runtime = root.TryGetProperty("runtimes", out var runtimes) && runtimes.ValueKind == JsonValueKind.Object && runtimes.TryGetProperty("nvidia", out _);
            var defaultRuntime = root.TryGetProperty("default-runtime", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            bool? cdi = root.TryGetProperty("features", out var features) && features.ValueKind == JsonValueKind.Object &&
                        features.TryGetProperty("cdi", out var c) && c.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? c.GetBoolean()
                : null;
            return new DockerDaemonConfig(runtime, defaultRuntime, cdi);
        }
        catch (JsonException e)
        {
            return new DockerDaemonConfig(false, null, null, e.Message);
        }
    }

    /// <summary>
    /// Parses a CDI spec (YAML, or JSON, which YAML reads too) and collects the driver versions of the versioned
    /// NVIDIA libraries it mounts or links (<c>libcuda.so.550.127.05</c>): <c>nvidia-ctk cdi generate</c> writes the
    /// loaded driver's files by their full names, so these say which driver the spec was made for.
    /// </summary>
    public static CdiSpecDrivers ParseCdiSpec(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            return new CdiSpecDrivers([], $"line {e.Start.Line}: {e.Message}");
        }

        if (stream.Documents is not [{ RootNode: YamlMappingNode root }] || !root.Children.ContainsKey("cdiVersion") || !root.Children.ContainsKey("kind"))
        {
            return new CdiSpecDrivers([], "not a CDI spec: it has no cdiVersion and kind");
        }

        var versions = root.AllNodes.OfType<YamlScalarNode>()
            .SelectMany(node => DriverLibrary().Matches(node.Value ?? "").Select(m => m.Groups["version"].Value))
            .Distinct().Order(StringComparer.Ordinal).ToList();
        return new CdiSpecDrivers(versions);
    }

    /// <summary>Toolkit package versions from <c>dpkg-query -W -f '${db:Status-Abbrev}|${Package}|${Version}\n'</c>: only installed (<c>ii</c>) ones.</summary>
    public static IReadOnlyDictionary<string, string> ParseInstalledPackages(string dpkgOutput) =>
        dpkgOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('|'))
            .Where(f => f.Length == 3 && AptPinning.IsInstalled(f[0].Trim()) && Packages.Contains(f[1].Trim()) && f[2].Trim().Length > 0)
            .GroupBy(f => f[1].Trim())
            .ToDictionary(g => g.Key, g => g.First()[2].Trim());

    /// <summary>The version in <c>nvidia-ctk --version</c>'s first line (<c>NVIDIA Container Toolkit CLI version 1.17.8</c>); null when none.</summary>
    public static string? ParseCtkVersion(string output) => CtkVersion().Match(output) is { Success: true } m ? m.Groups["version"].Value : null;

    /// <summary>The version in <c>dockerd --version</c> (<c>Docker version 28.2.2, build e6534b4</c>, Debian's <c>26.1.5+dfsg1</c>); null when none.</summary>
    public static string? ParseDockerVersion(string output) => DockerVersion().Match(output) is { Success: true } m ? m.Groups["version"].Value : null;

    /// <summary>
    /// The numeric part of a package or program version (<c>1.17.8-1</c> → 1.17.8, <c>1.18.0~rc.1-1</c> → 1.18.0,
    /// <c>26.1.5+dfsg1</c> → 26.1.5); null when it does not start with one.
    /// </summary>
    public static Version? Numeric(string? version) =>
        version is not null && NumericPrefix().Match(version) is { Success: true } m && Version.TryParse(m.Value, out var parsed)
            ? new Version(parsed.Major, parsed.Minor, Math.Max(parsed.Build, 0))
            : null;

    private static TomlTable? Table(TomlTable model, string key) => model.TryGetValue(key, out var value) ? value as TomlTable : null;

    [GeneratedRegex(@"lib(?:cuda|nvidia-ml)\.so\.(?<version>\d+\.\d+(?:\.\d+)?)(?![\d.])")]
    private static partial Regex DriverLibrary();

    [GeneratedRegex(@"^NVIDIA Container Toolkit CLI version (?<version>\d+\.\d+\.\d+\S*)", RegexOptions.Multiline)]
    private static partial Regex CtkVersion();

    [GeneratedRegex(@"^Docker version (?<version>\d+\.\d+\.\d+\S*?),?(?:\s|\z)", RegexOptions.Multiline)]
    private static partial Regex DockerVersion();

    [GeneratedRegex(@"\A\d+\.\d+(?:\.\d+)?")]
    private static partial Regex NumericPrefix();
}
