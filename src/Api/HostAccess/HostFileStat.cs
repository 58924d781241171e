using System.Runtime.InteropServices;

namespace GpuLxc.Api.HostAccess;

public enum HostFileType
{
    Other,
    Regular,
    Directory,
    CharacterDevice,
    BlockDevice,
    SymbolicLink,
}

/// <summary>What <c>stat(2)</c> says of a path; <see cref="Major"/>/<see cref="Minor"/> are the device numbers of a device node.</summary>
public sealed record HostFileStat(HostFileType Type, uint Major, uint Minor, UnixFileMode Mode, uint Uid, uint Gid)
{
    /// <summary>The permission bits in octal, as <c>ls</c> and Proxmox's <c>mode=</c> write them (<c>0666</c>).</summary>
    public string OctalMode => "0" + Convert.ToString((int)Mode & 0x1FF, 8).PadLeft(3, '0');
}

/// <summary>
/// <c>statx(2)</c>, whose buffer has one layout on every architecture and reports device majors and minors
/// directly, so no <c>dev_t</c> encoding is assumed.
/// </summary>
internal static partial class Statx
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;

    /// <summary>The stat of <paramref name="path"/> (not following a final symlink), or null when it does not exist.</summary>
    public static unsafe HostFileStat? Stat(string path)
    {
        var buffer = stackalloc byte[256];
        if (NativeStatx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            return null;
        }

        var mode = *(ushort*)(buffer + 28);
        var type = (mode & 0xF000) switch
        {
            0x8000 => HostFileType.Regular,
            0x4000 => HostFileType.Directory,
            0x2000 => HostFileType.CharacterDevice,
            0x6000 => HostFileType.BlockDevice,
            0xA000 => HostFileType.SymbolicLink,
            _ => HostFileType.Other,
        };
        return new HostFileStat(
            type,
            Major: *(uint*)(buffer + 128),
            Minor: *(uint*)(buffer + 132),
            Mode: (UnixFileMode)(mode & 0xFFF),
            Uid: *(uint*)(buffer + 20),
            Gid: *(uint*)(buffer + 24));
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int NativeStatx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
