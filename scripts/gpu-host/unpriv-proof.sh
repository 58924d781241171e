#!/usr/bin/env bash
# Proof of unprivileged containers on a real GPU host (issue 20): GpuLxc reads each container's idmap and says
# whether its nodes can be opened inside, and the real driver agrees.
#  A. The nodes as the driver made them (NVreg_DeviceFileMode 0666 there): an unprivileged container with the default
#     idmap is attached, and a user inside who is in no group runs nvidia-smi and a CUDA program.
#  B. The nodes root:video 0660, as many hosts have them: GpuLxc's drift for that container says nodesUnusable and a
#     new PUT is 409 nodes-unusable-inside; a container whose idmap maps the host's video group to its own video
#     group is attached with group video: there a member of video runs nvidia-smi and the CUDA program, a non-member
#     cannot, and in the container with the default idmap nobody can.
# The nodes' modes and owners are put back at exit.
#
# Usage (as root): unpriv-proof.sh PUBLISH.tar.xz DEBDIR [OUT]   (PUBLISH and DEBDIR as for zero-install-proof.sh)
# Environment: PORT (default 5122), NAME (the video-mapped container, default gpulxc-unpriv; the other one is
# NAME-plain), KEEP=1 leaves the containers, the service and the changed node modes.
set -euo pipefail

publish=${1:?usage: unpriv-proof.sh PUBLISH.tar.xz DEBDIR [OUT]}
debs=${2:?usage: unpriv-proof.sh PUBLISH.tar.xz DEBDIR [OUT]}
OUT=$(mkdir -p "${3:-./unpriv-proof-out}" && cd "${3:-./unpriv-proof-out}" && pwd)
PORT=${PORT:-5122}
NAME=${NAME:-gpulxc-unpriv}
PLAIN=$NAME-plain
NODES=()
SAVED=()
ADDED_SUBIDS=()
proof_cleanup() {
  for entry in "${SAVED[@]}"; do
    read -r mode uid gid node <<<"$entry"
    chown "$uid:$gid" "$node" && chmod "$mode" "$node"
  done
  for entry in "${ADDED_SUBIDS[@]}"; do
    sed -i "\|^${entry#*=}\$|d" "${entry%%=*}"
  done
}
. "$(dirname "$0")/lib.sh"
CONTAINERS+=("$PLAIN")

modes() { stat -c '%a %U:%G %n' "${NODES[@]}"; }
# as NAME USER CMD...: CMD inside container NAME as USER (busybox su, from root inside); its output, never failing.
as() { local name=$1 user=$2; shift 2; lxc-attach -n "$name" -- su "$user" -c "$*" 2>&1 || true; }

step "1. The host: root, a loaded NVIDIA module, nvidia-smi, nvcc; the nodes and how the driver makes them"
check_host
for node in /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools; do [[ -e $node ]] && NODES+=("$node"); done
modes | tee "$OUT/nodes-as-made.txt"
grep -E '^(ModifyDeviceFiles|DeviceFileUID|DeviceFileGID|DeviceFileMode):' /proc/driver/nvidia/params | tee "$OUT/driver-params.txt"
video_gid=$(getent group video | cut -d: -f3) || fail "the host has no video group"
ok "module $version; host video gid $video_gid"

step "2. LXC (Debian 12's packages, unpacked only when the host has none)"
unpack_lxc "$debs"

step "3. A CUDA program built here: vector add with a checked result"
build_cuda vecadd
ok "built $OUT/vecadd"

step "4. Two unprivileged busybox containers: $NAME maps the host's video group to its video (44), $PLAIN has the default map"
# Root may map only what /etc/subuid and /etc/subgid grant it when newuidmap is there (as on Proxmox): add what is missing.
for entry in "/etc/subuid=root:100000:65536" "/etc/subgid=root:100000:65536" "/etc/subgid=root:$video_gid:1"; do
  file=${entry%%=*} line=${entry#*=}
  touch "$file"
  grep -qxF "$line" "$file" || { echo "$line" >>"$file"; ADDED_SUBIDS+=("$entry"); echo "added $line to $file"; }
done
printf 'lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 44\nlxc.idmap = g 44 %s 1\nlxc.idmap = g 45 100045 65491\n' "$video_gid" >"$OUT/mapped.idmap"
printf 'lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n' >"$OUT/plain.idmap"
busybox_guest "$NAME" "$OUT/mapped.idmap" vecadd
busybox_guest "$PLAIN" "$OUT/plain.idmap" vecadd
for name in "$NAME" "$PLAIN"; do
  etc=/var/lib/lxc/$name/rootfs/etc
  printf 'video:x:44:alice\nalice:x:1000:\nbob:x:1001:\n' >>"$etc/group"
  printf 'alice:x:1000:1000::/:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n' >>"$etc/passwd"
  grep idmap "/var/lib/lxc/$name/config"
done
ok "alice (in video) and bob (not) in both"

step "5. The GpuLxc service (self-contained publish), backend lxc, on 127.0.0.1:$PORT"
start_service "$publish"
ok "service up (pid $service_pid)"

step "A1. Nodes as the driver made them: attach $PLAIN (default idmap) with the host's userspace"
api PUT "/containers/$PLAIN/gpu" '{"userspace":"host"}' >"$OUT/a-attach-plain.json"
lxc-start -n "$PLAIN"; wait_running "$PLAIN"
lxc-attach -n "$PLAIN" -- stat -c '%a %u:%g %n' /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm | tee "$OUT/a-inside-modes.txt"
as "$PLAIN" bob nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/a-bob-nvidia-smi.txt"
grep -qF "$version" "$OUT/a-bob-nvidia-smi.txt" || fail "bob could not run nvidia-smi in $PLAIN with the nodes as the driver made them"
as "$PLAIN" bob /usr/local/bin/vecadd | tee "$OUT/a-bob-vecadd.txt"
grep -q '^PASS' "$OUT/a-bob-vecadd.txt" || fail "bob's CUDA program failed in $PLAIN"
lxc-stop -n "$PLAIN" -k
ok "in an unprivileged container with the default idmap, a user in no group used the GPU (nodes $(stat -c %a /dev/nvidia0))"

step "B1. The nodes become root:video 0660 (nothing on the host opens the GPU from here on)"
for node in "${NODES[@]}"; do SAVED+=("$(stat -c '%a %u %g %n' "$node")"); chgrp "$video_gid" "$node"; chmod 0660 "$node"; done
modes | tee "$OUT/b-nodes.txt"

step "B2. GpuLxc's view of $PLAIN now: drift nodesUnusable, and a new PUT is refused with the fixes"
api GET "/containers/$PLAIN/gpu" >"$OUT/b-plain-attachment.json"
drift=$(json "d['drift']['status']" <"$OUT/api-last.json")
json "d['drift']['detail']" <"$OUT/api-last.json"
[[ $drift == nodesUnusable ]] || fail "drift of $PLAIN is $drift, not nodesUnusable"
api_status PUT "/containers/$PLAIN/gpu" '{"userspace":"host","group":"video"}' >"$OUT/b-plain-refused.json"
[[ $(cat "$OUT/api-status") == 409 ]] || fail "the PUT for $PLAIN answered $(cat "$OUT/api-status"), not 409"
[[ $(json "d['type']" <"$OUT/api-last.json") == urn:gpulxc:problem:nodes-unusable-inside ]] || fail "the 409 is not nodes-unusable-inside"
json "d['detail']" <"$OUT/api-last.json"; json "d.get('fix')" <"$OUT/api-last.json"
modes | tee "$OUT/b-nodes-after-api.txt"
[[ $(stat -c %a /dev/nvidia0) == 660 ]] ||
  fail "the nodes went back to $(stat -c %a /dev/nvidia0) while GpuLxc read the GPU: the driver's userspace resets them (ModifyDeviceFiles=1)"
ok "drift nodesUnusable and 409 nodes-unusable-inside for $PLAIN"

step "B3. Attach $NAME (video mapped) with group video, start it: alice (video) can, bob cannot"
api PUT "/containers/$NAME/gpu" '{"userspace":"host","group":"video"}' >"$OUT/b-attach-mapped.json"
[[ $(json "d['attachment']['drift']['status']" <"$OUT/api-last.json") == inSync ]] || fail "the new attachment of $NAME is not inSync"
lxc-start -n "$NAME"; wait_running "$NAME"
lxc-attach -n "$NAME" -- stat -c '%a %u:%g %n' /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm | tee "$OUT/b-inside-modes.txt"
as "$NAME" alice nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/b-alice-nvidia-smi.txt"
grep -qF "$version" "$OUT/b-alice-nvidia-smi.txt" || fail "alice (video) could not run nvidia-smi in $NAME"
as "$NAME" alice /usr/local/bin/vecadd | tee "$OUT/b-alice-vecadd.txt"
grep -q '^PASS' "$OUT/b-alice-vecadd.txt" || fail "alice's CUDA program failed in $NAME"
as "$NAME" bob nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/b-bob-nvidia-smi.txt"
grep -qF "$version" "$OUT/b-bob-nvidia-smi.txt" && fail "bob (not in video) ran nvidia-smi in $NAME"
as "$NAME" bob /usr/local/bin/vecadd | tee "$OUT/b-bob-vecadd.txt"
grep -q '^PASS' "$OUT/b-bob-vecadd.txt" && fail "bob's CUDA program ran in $NAME"
ok "group video inside $NAME opens the nodes; others cannot"

step "B4. $PLAIN with the same nodes: nobody inside can, which is why GpuLxc refused it"
lxc-start -n "$PLAIN"; wait_running "$PLAIN"
lxc-attach -n "$PLAIN" -- stat -c '%a %u:%g %n' /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm | tee "$OUT/b-plain-inside-modes.txt"
as "$PLAIN" alice nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/b-plain-alice.txt"
grep -qF "$version" "$OUT/b-plain-alice.txt" && fail "alice ran nvidia-smi in $PLAIN"
lxc-attach -n "$PLAIN" -- nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | tee "$OUT/b-plain-root.txt" || true
grep -q 'H200' "$OUT/b-plain-root.txt" && fail "root ran nvidia-smi in $PLAIN"
modes | tee "$OUT/b-nodes-end.txt"
ok "in $PLAIN neither alice nor root could"

step "DONE: unprivileged proof passed on $(hostname) with driver $version; logs in $OUT"
