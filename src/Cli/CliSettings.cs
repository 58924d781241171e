using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuLxc.Cli;

/// <summary>
/// Where the service is and the key to use. <c>GPULXC_URL</c> and <c>GPULXC_KEY</c> win; otherwise the first config
/// file found: <c>$GPULXC_CONFIG</c>, <c>$XDG_CONFIG_HOME/gpulxc/config.json</c> (or <c>~/.config/…</c>), then
/// <c>/etc/gpulxc/cli.json</c>. A file holds <c>{"url": "…", "key": "…"}</c> or, instead of the key,
/// <c>"keyFile": "/var/lib/gpulxc/api-key"</c> (the key the service generated). The key is never an argument: a
/// command line is visible to every user of the host in <c>ps</c>.
/// </summary>
public sealed record CliSettings(Uri Url, string Key, string Source)
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>Resolves the settings.</summary>
    /// <exception cref="CliUsageException">No key anywhere, a URL that is not absolute http(s), a <c>GPULXC_CONFIG</c> that names
    /// no file, or a config file that is not valid JSON.</exception>
    public static CliSettings Resolve(CliHost host)
    {
        var (file, path) = ReadConfig(host);
        var url = host.Environment("GPULXC_URL") is { Length: > 0 } fromEnvironment ? fromEnvironment : file?.Url ?? DefaultUrl;
        var key = host.Environment("GPULXC_KEY") is { Length: > 0 } keyFromEnvironment ? keyFromEnvironment
            : file?.Key ?? (file?.KeyFile is { } keyFile ? ReadKeyFile(keyFile, path!) : null);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new CliUsageException($"The service URL '{url}' is not an http:// or https:// URL.", "Set GPULXC_URL, or \"url\" in the config file.");
        }

        if (string.IsNullOrWhiteSpace(key))
        {
            throw new CliUsageException("No API key: gpulxc takes it from GPULXC_KEY or a config file, never from the command line.",
                "export GPULXC_KEY=... (e.g. $(sudo cat /var/lib/gpulxc/api-key)), or write {\"url\": \"" + DefaultUrl +
                "\", \"keyFile\": \"/var/lib/gpulxc/api-key\"} to ~/.config/gpulxc/config.json or /etc/gpulxc/cli.json.");
        }

        return new CliSettings(uri, key.Trim(), path ?? "environment");
    }

    private static (ConfigFile? File, string? Path) ReadConfig(CliHost host)
    {
        // A file named on purpose that is not there is a mistake to report, not a reason to fall back to another
        // file (and perhaps another service) without a word.
        if (host.Environment("GPULXC_CONFIG") is { Length: > 0 } named && !File.Exists(named))
        {
            throw new CliUsageException($"GPULXC_CONFIG names {named}, which does not exist (or is not a file).",
                "Point GPULXC_CONFIG at the config file, or unset it to use ~/.config/gpulxc/config.json or /etc/gpulxc/cli.json.");
        }

        foreach (var path in ConfigPaths(host))
        {
            if (!File.Exists(path))
            {
                continue;
            }

            try
            {
                return (JsonSerializer.Deserialize<ConfigFile>(File.ReadAllText(path), ConfigJson) ?? new ConfigFile(), path);
            }
            catch (JsonException e)
            {
                throw new CliUsageException($"The config file {path} is not valid: {e.Message}", "It holds {\"url\": \"...\", \"key\": \"...\"} or \"keyFile\" instead of \"key\".");
            }
        }

        return (null, null);
    }

    private static IEnumerable<string> ConfigPaths(CliHost host)
    {
        if (host.Environment("GPULXC_CONFIG") is { Length: > 0 } explicitPath)
        {
            yield return explicitPath;
        }

        if (host.ConfigFiles is { } files)
        {
            foreach (var file in files)
            {
                yield return file;
            }

            yield break;
        }

        var configHome = host.Environment("XDG_CONFIG_HOME") is { Length: > 0 } xdg ? xdg
            : host.Environment("HOME") is { Length: > 0 } home ? Path.Join(home, ".config") : null;
        if (configHome is not null)
        {
            yield return Path.Join(configHome, "gpulxc", "config.json");
        }

        yield return "/etc/gpulxc/cli.json";
    }

    private static string ReadKeyFile(string keyFile, string configPath)
    {
        try
        {
            return File.ReadAllText(keyFile).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"The key file {keyFile} (named in {configPath}) cannot be read: {e.Message}",
                "Run gpulxc as a user who may read it (the service's generated key is root's, mode 0600), or set GPULXC_KEY.");
        }
    }

    private static readonly JsonSerializerOptions ConfigJson = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private sealed record ConfigFile(string? Url = null, string? Key = null, string? KeyFile = null);
}

/// <summary>A mistake in how gpulxc was called or configured: exit code 2, with what to do about it.</summary>
public sealed class CliUsageException(string message, string? fix = null) : Exception(message)
{
    public string? Fix { get; } = fix;
}
