#!/usr/bin/env bash
# Creates the demo host's device nodes (character devices need root, so git cannot carry them).
# Usage: sudo samples/hosts/demo/materialize.sh [root]   (root defaults to samples/hosts/demo/root)
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")" && pwd)/root}"
[ "$(id -u)" = 0 ] || { echo "materialize.sh needs root to mknod the device nodes; without them GpuLxc reports the nodes as missing." >&2; exit 1; }

# path major minor mode — majors as this demo host's /proc/devices assigns them (uvm 509, caps 511).
nodes="
nvidia0 195 0 666
nvidiactl 195 255 666
nvidia-modeset 195 254 666
nvidia-uvm 509 0 666
nvidia-uvm-tools 509 1 666
nvidia-caps/nvidia-cap1 511 1 400
nvidia-caps/nvidia-cap2 511 2 444
"
mkdir -p "$root/dev/nvidia-caps"
echo "$nodes" | while read -r path major minor mode; do
  [ -n "$path" ] || continue
  rm -f "$root/dev/$path"
  mknod -m "$mode" "$root/dev/$path" c "$major" "$minor"
done
echo "device nodes created under $root/dev"
