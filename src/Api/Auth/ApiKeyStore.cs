using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using GpuLxc.Api.Infrastructure;
using Microsoft.Extensions.Options;

namespace GpuLxc.Api.Auth;

/// <summary>Who a presented key belongs to and what it may do.</summary>
public sealed record ApiKeyIdentity(string Name, IReadOnlySet<string> Scopes);

/// <summary>
/// The keys the service accepts: the named keys from configuration, or else one admin key generated on first
/// start into <c>&lt;DataDir&gt;/api-key</c> (mode 0600). Only SHA-256 digests are kept in memory, and lookups
/// compare every digest in constant time.
/// </summary>
public sealed partial class ApiKeyStore
{
    public const string GeneratedKeyFileName = "api-key";
    public const string GeneratedKeyName = "generated";
    public const int MinimumKeyLength = 16;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly List<(byte[] Digest, ApiKeyIdentity Identity)> _keys = [];

    public ApiKeyStore(IOptions<ApiKeyOptions> options, DataDirectory dataDirectory, ILogger<ApiKeyStore> logger)
    {
        var configured = options.Value.ApiKeys;
        if (configured.Count > 0)
        {
            AddConfiguredKeys(configured);
            LogConfiguredKeys(logger, configured.Count);
            return;
        }

        var path = dataDirectory.File(GeneratedKeyFileName);
        var key = File.Exists(path) ? ReadGeneratedKey(path, logger) : CreateGeneratedKey(path, logger);
        Add(key, new ApiKeyIdentity(GeneratedKeyName, new HashSet<string>([Scopes.Admin], StringComparer.Ordinal)));
        LogGeneratedKey(logger, path);
    }

    /// <summary>The identity owning <paramref name="presentedKey"/>, or null.</summary>
    public ApiKeyIdentity? Find(string presentedKey)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presentedKey), digest);

        ApiKeyIdentity? match = null;
        foreach (var (storedDigest, identity) in _keys)
        {
            // No early exit: the time taken must not reveal which key, or whether any, matched.
            if (CryptographicOperations.FixedTimeEquals(storedDigest, digest))
            {
                match ??= identity;
            }
        }

        return match;
    }

    /// <summary>The keys as <see cref="ApiKeyOptionsValidator"/> accepted them (resolving the options runs it).</summary>
    private void AddConfiguredKeys(Dictionary<string, ApiKeyEntry> configured)
    {
        foreach (var (name, entry) in configured)
        {
            Add(entry.TrimmedKey, new ApiKeyIdentity(name, entry.ScopeSet()));
        }
    }

    private void Add(string key, ApiKeyIdentity identity) => _keys.Add((SHA256.HashData(Encoding.UTF8.GetBytes(key)), identity));

    private static string CreateGeneratedKey(string path, ILogger logger)
    {
        var key = "glx_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        try
        {
            // CreateNew is atomic: when instances start on one data dir at once, exactly one creates the file.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly };
            using var stream = new FileStream(path, options);
            stream.Write(System.Text.Encoding.ASCII.GetBytes(key + "\n"));
            return key;
        }
        catch (IOException) when (File.Exists(path))
        {
            return ReadGeneratedKey(path, logger);
        }
    }

    /// <summary>The existing key; a file another instance is still writing is read again until it holds one.</summary>
    private static string ReadGeneratedKey(string path, ILogger logger)
    {
        if ((File.GetUnixFileMode(path) & ~OwnerOnly) != 0)
        {
            File.SetUnixFileMode(path, OwnerOnly);
            LogTightenedMode(logger, path);
        }

        for (var attempt = 0; ; attempt++)
        {
            var key = File.ReadAllText(path).Trim();
            if (key.Length >= MinimumKeyLength)
            {
                return key;
            }

            if (attempt == 50)
            {
                throw new InvalidOperationException($"The API key file {path} is empty or too short; delete it to generate a new key.");
            }

            Thread.Sleep(20);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Accepting {Count} API key(s) from configuration")]
    private static partial void LogConfiguredKeys(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No API keys are configured; the admin key is in {Path} (mode 0600)")]
    private static partial void LogGeneratedKey(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path} was readable by others; its mode is now 0600")]
    private static partial void LogTightenedMode(ILogger logger, string path);
}
