#!/usr/bin/env bash
# Proof of `userspace: host` on a real GPU host (issue 17): a busybox container with NOTHING of NVIDIA inside and a
# deny-all device policy is attached through GpuLxc's API with the host's own driver userspace, runs nvidia-smi and
# a CUDA program built here, and after detach both fail.
#
# Usage (as root): zero-install-proof.sh PUBLISH.tar.xz DEBDIR [OUT]
#   PUBLISH.tar.xz  `dotnet publish src/Api -c Release -r linux-x64 --self-contained -o gpulxc` packed with
#                   `tar -cJf gpulxc.tar.xz -C gpulxc .` (the host has no .NET and no network)
#   DEBDIR          what scripts/gpu-host's fetch step downloads: Debian 12's lxc, liblxc1, liblxc-common,
#                   busybox-static and the libraries LXC needs (`apt-get download …`, see fetch-debs.sh); unpacked
#                   only when the host has no lxc-start
#   OUT             where every log and result goes (default ./zero-install-proof-out); proof.log is the summary
# Environment: PORT (default 5120), NAME (container, default gpulxc-proof), KEEP=1 leaves the container and service.
set -euo pipefail

publish=${1:?usage: zero-install-proof.sh PUBLISH.tar.xz DEBDIR [OUT]}
debs=${2:?usage: zero-install-proof.sh PUBLISH.tar.xz DEBDIR [OUT]}
OUT=$(mkdir -p "${3:-./zero-install-proof-out}" && cd "${3:-./zero-install-proof-out}" && pwd)
PORT=${PORT:-5120}
NAME=${NAME:-gpulxc-proof}
. "$(dirname "$0")/lib.sh"
conf=/var/lib/lxc/$NAME/config

step "1. The host: root, a loaded NVIDIA module, nvidia-smi, nvcc"
check_host
"$host_smi" --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/host-nvidia-smi.txt"
ok "module $version, $host_smi, $nvcc"

step "2. LXC (Debian 12's packages, unpacked only when the host has none)"
unpack_lxc "$debs"

step "3. A CUDA program built here: vector add with a checked result"
build_cuda vecadd
"$OUT/vecadd" | tee "$OUT/host-vecadd.txt"

step "4. A busybox container: no NVIDIA file, deny-all devices, its own C library (copied from the host's glibc)"
busybox_guest "$NAME" - vecadd
find "$ROOTFS" \( -iname '*nvidia*' -o -iname 'libcuda*' -o -iname '*nvcuvid*' \) | tee "$OUT/guest-nvidia-files-before.txt"
[[ -s $OUT/guest-nvidia-files-before.txt ]] && fail "the guest has NVIDIA files before the attachment"
ls "$ROOTFS/lib/x86_64-linux-gnu" "$ROOTFS/lib64"
grep -E 'devices|include' "$conf"
ok "guest rootfs has nothing of NVIDIA"

step "5. The GpuLxc service (self-contained publish), backend lxc, on 127.0.0.1:$PORT"
start_service "$publish"
api GET /host/driver
ok "service up (pid $service_pid)"

step "6. Before the attachment: nvidia-smi and the CUDA program fail inside"
lxc-start -n "$NAME"; wait_running
inside /bin/sh -c 'nvidia-smi; echo "exit $?"' 2>&1 | tee "$OUT/before-nvidia-smi.txt"
inside /usr/local/bin/vecadd 2>&1 | tee "$OUT/before-vecadd.txt" && fail "vecadd ran before the attachment"
lxc-stop -n "$NAME"

step "7. Attach with userspace host (PUT /containers/$NAME/gpu)"
api PUT "/containers/$NAME/gpu" '{"userspace":"host"}' | tee "$OUT/attach.json"
grep -E '^lxc\.(mount\.entry|cgroup2?\.devices\.allow)' "$conf" | tee "$OUT/config-lines.txt"

step "8. Inside: nvidia-smi reports the host's GPU and $version"
lxc-start -n "$NAME"; wait_running
inside nvidia-smi 2>&1 | tee "$OUT/inside-nvidia-smi.txt"
inside nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | tee "$OUT/inside-query.txt"
grep -q 'H200' "$OUT/inside-query.txt" || fail "nvidia-smi inside did not report an H200"
grep -qF "$version" "$OUT/inside-query.txt" || fail "nvidia-smi inside did not report $version"
ok "nvidia-smi inside: $(cat "$OUT/inside-query.txt")"

step "9. Inside: the CUDA program computes a right result"
inside /usr/local/bin/vecadd 2>&1 | tee "$OUT/inside-vecadd.txt"
grep -q '^PASS' "$OUT/inside-vecadd.txt" || fail "vecadd inside did not pass"
ok "vecadd inside passed"

step "10. GpuLxc's view: the container's driver (method host) and the attachment's drift"
api GET "/containers/$NAME/driver" | tee "$OUT/driver.json"
grep -q '"method":"host"' "$OUT/driver.json" || fail "the driver status does not say method host"
api GET "/containers/$NAME/gpu" | tee "$OUT/attachment.json"

step "11. Detach (DELETE /containers/$NAME/gpu?restart=true): both fail again"
api DELETE "/containers/$NAME/gpu?restart=true" | tee "$OUT/detach.json"
wait_running
inside /bin/sh -c 'nvidia-smi; echo "exit $?"' 2>&1 | tee "$OUT/after-nvidia-smi.txt"
grep -qF "$version" "$OUT/after-nvidia-smi.txt" && fail "nvidia-smi still reports $version after detach"
inside /usr/local/bin/vecadd 2>&1 | tee "$OUT/after-vecadd.txt" && fail "vecadd still runs after detach"
ls -la "$ROOTFS/usr/bin/nvidia-smi" "$ROOTFS/usr/lib/x86_64-linux-gnu/" 2>&1 | tee "$OUT/after-mount-points.txt" || true
ok "after detach nvidia-smi and vecadd fail (LXC's empty mount points are all that is left)"

step "DONE: zero-install proof passed on $(hostname) with driver $version; logs in $OUT"
