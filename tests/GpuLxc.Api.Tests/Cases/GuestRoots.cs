using GpuLxc.Api.Tests.Support;

namespace GpuLxc.Api.Tests.Cases;

/// <summary>
/// Containers with files of their own, for the reported cases: a stub <c>pct</c> whose <c>exec</c> runs <c>cat</c>,
/// <c>find</c> and <c>ls</c> against the container's directory (<see cref="RootOf"/>) and its <c>nvidia-smi</c> from
/// <c>nvidia-smi.stub</c> there, as the case trees' own stub does; <c>list</c> and <c>status</c> answer as
/// <see cref="HostTree.WithContainer(string, string, string)"/> set them.
/// </summary>
public static class GuestRoots
{
    public static HostTree WithPctOverGuestRoots(this HostTree tree) => tree.WithCommand("pct", $$"""
        dir=$(dirname "$0"); ct="{{Path.Join(tree.BinDir, "ct")}}"
        case "$1" in
          list) echo "VMID       Status     Lock         Name"
                for f in "$dir"/pct-state/*; do [ -e "$f" ] && echo "$(basename "$f")        $(cat "$f")                 ct"; done; exit 0 ;;
          status) echo "status: $(cat "$dir/pct-state/$2" 2>/dev/null || echo stopped)" ;;
          exec) root="$ct/$2"; shift 3
                case "$1" in
                  cat) cat "$root$2" ;;
                  find) shift; dirs=1; n=$#
                        while [ $n -gt 0 ]; do a=$1; shift; n=$((n - 1))
                          if [ $dirs = 1 ] && [ "${a#-}" = "$a" ]; then set -- "$@" "$root$a"; else dirs=0; set -- "$@" "$a"; fi
                        done
                        find "$@" 2>/dev/null | sed "s#^$root##" ;;
                  ls) shift; flags=$1; shift; for p in "$@"; do ls $flags "$root$p" | sed "s#$root##"; done ;;
                  nvidia-smi) [ -x "$root/nvidia-smi.stub" ] && exec "$root/nvidia-smi.stub" "$@"; echo "nvidia-smi: not found" >&2; exit 127 ;;
                  *) echo "stub pct exec: $1 not supported" >&2; exit 126 ;;
                esac ;;
          reboot) echo "reboot $2" >> "$dir/pct.log" ;;
          *) echo "stub pct: $*" >&2; exit 2 ;;
        esac
        """);

    /// <summary>The directory that is container <paramref name="vmid"/>'s <c>/</c> for the stub's exec.</summary>
    public static string RootOf(this HostTree tree, string vmid) => Path.Join(tree.BinDir, "ct", vmid);

    /// <summary>A file inside the container.</summary>
    public static HostTree WithGuestFile(this HostTree tree, string vmid, string path, string content, bool executable = false)
    {
        var file = Path.Join(tree.RootOf(vmid), path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, content);
        if (executable)
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return tree;
    }

    /// <summary>A symbolic link inside the container, <paramref name="target"/> as written (relative to the link's folder, like the loader's links).</summary>
    public static HostTree WithGuestSymlink(this HostTree tree, string vmid, string path, string target)
    {
        var link = Path.Join(tree.RootOf(vmid), path);
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        File.CreateSymbolicLink(link, target);
        return tree;
    }

    /// <summary>A real character device inside the container (mknod: the tests run as root).</summary>
    public static HostTree WithGuestCharDevice(this HostTree tree, string vmid, string path, uint major, uint minor)
    {
        var node = Path.Join(tree.RootOf(vmid), path);
        Directory.CreateDirectory(Path.GetDirectoryName(node)!);
        HostTree.Run("mknod", "-m", "666", node, "c", major.ToString(System.Globalization.CultureInfo.InvariantCulture), minor.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return tree;
    }
}
