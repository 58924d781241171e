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
KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
API=http://127.0.0.1:$PORT/api/v1
ROOTFS=/var/lib/lxc/$NAME/rootfs
exec > >(tee "$OUT/proof.log") 2>&1

step() { printf '\n=== %s\n' "$*"; }
ok() { printf 'OK: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
inside() { lxc-attach -n "$NAME" -- "$@"; }
api() { # METHOD PATH [BODY] -> body on stdout, saved under $OUT; fails on a non-2xx status
  local method=$1 path=$2 body=${3:-} file="$OUT/api-$(date +%s%N).json" status
  status=$(curl -sS -o "$file" -w '%{http_code}' -X "$method" -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} "$API$path")
  printf '%s %s -> %s (%s)\n' "$method" "$path" "$status" "$file" >&2
  cat "$file"; echo
  [[ $status == 2* ]] || fail "$method $path answered $status"
}
wait_running() {
  for _ in $(seq 1 100); do [[ $(lxc-info -n "$NAME" -s -H 2>/dev/null) == RUNNING ]] && return 0; sleep 0.1; done
  fail "container $NAME did not start (see $OUT/lxc-$NAME.log)"
}
service_pid=
cleanup() {
  [[ ${KEEP:-0} == 1 ]] && { echo "KEEP=1: container $NAME and the service (pid $service_pid) are left running"; return; }
  [[ -n $service_pid ]] && kill "$service_pid" 2>/dev/null || true
  lxc-stop -n "$NAME" -k >/dev/null 2>&1 || true
  lxc-destroy -n "$NAME" -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "1. The host: root, a loaded NVIDIA module, nvidia-smi, nvcc"
[[ $(id -u) == 0 ]] || fail "run as root"
# Both banners: "… x86_64 Kernel Module  550.127.05  …" (proprietary) and "… Open Kernel Module for x86_64  580.159.04  …".
version=$(grep -m1 '^NVRM version:' /proc/driver/nvidia/version | sed -E 's/.*Kernel Module( for [^ ]+)? +([0-9]+\.[0-9]+(\.[0-9]+)?).*/\2/' || true)
[[ $version =~ ^[0-9]+\.[0-9]+ ]] || version=""
[[ -n $version ]] || fail "no NVIDIA module is loaded (/proc/driver/nvidia/version)"
export PATH=$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin
host_smi=$(command -v nvidia-smi) || fail "nvidia-smi not found"
nvcc=$(command -v nvcc) || fail "nvcc not found"
"$host_smi" --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/host-nvidia-smi.txt"
ok "module $version, $host_smi, $nvcc"

step "2. LXC (Debian 12's packages, unpacked only when the host has none)"
if ! command -v lxc-start >/dev/null; then
  tmp=$(mktemp -d)
  for d in "$debs"/*.deb; do
    n=$(basename "$d")
    case $n in
      lxc_*|liblxc1_*|liblxc-common_*) dpkg-deb -x "$d" / ;;
      busybox-static_*) command -v busybox >/dev/null || { dpkg-deb -x "$d" "$tmp/bb"; cp "$tmp/bb/bin/busybox" /usr/local/bin/; } ;;
      *) case $n in libapparmor1_*) so=libapparmor.so.1;; libseccomp2_*) so=libseccomp.so.2;; libcap2_*) so=libcap.so.2;;
                    libselinux1_*) so=libselinux.so.1;; libpcre2-8-0_*) so=libpcre2-8.so.0;; *) so=;; esac
         if [[ -n $so ]] && ! ldconfig -p | grep -qF "$so ("; then
           dpkg-deb -x "$d" "$tmp/lib"; find "$tmp/lib" -name "$so*" -exec cp -a {} /usr/local/lib/ \;
         fi ;;
    esac
  done
  ldconfig
  mkdir -p /etc/lxc /var/lib/lxc /run/lock/lxc
  [[ -f /etc/lxc/default.conf ]] || printf 'lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n' >/etc/lxc/default.conf
fi
lxc-start --version | sed 's/^/lxc /'

step "3. A CUDA program built here: vector add with a checked result"
cat >"$OUT/vecadd.cu" <<'CUDA'
#include <cstdio>
#include <cuda_runtime.h>
__global__ void add(const float *a, const float *b, float *c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
int main() {
  const int n = 1 << 20;
  float *a, *b, *c;
  cudaError_t e = cudaMallocManaged(&a, n * sizeof(float));
  if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
  cudaMallocManaged(&b, n * sizeof(float)); cudaMallocManaged(&c, n * sizeof(float));
  for (int i = 0; i < n; i++) { a[i] = i; b[i] = 2.0f * i; }
  add<<<(n + 255) / 256, 256>>>(a, b, c, n);
  e = cudaDeviceSynchronize();
  if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
  for (int i = 0; i < n; i++) if (c[i] != 3.0f * i) { printf("FAIL at %d: %f\n", i, c[i]); return 1; }
  cudaDeviceProp p; cudaGetDeviceProperties(&p, 0);
  printf("PASS: %d sums right on %s\n", n, p.name);
  return 0;
}
CUDA
# glibc's libm.so linker script names /lib/x86_64-linux-gnu/…; a host whose /lib is not merged into /usr lacks that
# path (seen on the GPU test host), so the link fails. Point it at /usr/lib's copy, and say so.
if [[ ! -e /lib/x86_64-linux-gnu && -d /usr/lib/x86_64-linux-gnu ]]; then
  ln -s /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu
  echo "note: linked /lib/x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu (this host's /lib is not merged into /usr)"
fi
"$nvcc" -arch=sm_90 -cudart static -o "$OUT/vecadd" "$OUT/vecadd.cu"
"$OUT/vecadd" | tee "$OUT/host-vecadd.txt"

step "4. A busybox container: no NVIDIA file, deny-all devices, its own C library (copied from the host's glibc)"
lxc-info -n "$NAME" >/dev/null 2>&1 && fail "container $NAME exists already; remove it or set NAME"
lxc-create -n "$NAME" -t busybox >"$OUT/lxc-create.log" 2>&1
conf=/var/lib/lxc/$NAME/config
# The busybox template binds the host's /lib and /usr/lib into the guest; this guest has its own.
sed -i -E '/^lxc.mount.entry = \/(usr\/)?lib(64)? /d; /^lxc.net\./d' "$conf"
echo 'lxc.net.0.type = empty' >>"$conf"   # no network: a default.conf's bridge may not exist here
grep -q '^lxc.include = /usr/share/lxc/config/common.conf' "$conf" ||
  printf 'lxc.include = /usr/share/lxc/config/common.conf\nlxc.apparmor.profile = unconfined\n' >>"$conf"
printf 'lxc.log.file = %s\nlxc.log.level = INFO\n' "$OUT/lxc-$NAME.log" >>"$conf"
mkdir -p "$ROOTFS/lib/x86_64-linux-gnu" "$ROOTFS/lib64" "$ROOTFS/usr/local/bin"
# glibc (and the C++ runtime) that the programs and the driver's libraries need, never an NVIDIA or CUDA file.
libdir=$(dirname "$(readlink -f "$(ldconfig -p | awk '/libnvidia-ml.so.1 /{print $NF; exit}')")")
{ ldd "$host_smi"; ldd "$OUT/vecadd"; ldd "$libdir/libcuda.so.$version"; ldd "$libdir/libnvidia-ml.so.$version"; } 2>/dev/null |
  awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' | grep -viE 'nvidia|cuda' | sort -u | while read -r lib; do
    case $lib in */ld-linux-x86-64.so.2) cp -L "$lib" "$ROOTFS/lib64/ld-linux-x86-64.so.2" ;; esac
    cp -L "$lib" "$ROOTFS/lib/x86_64-linux-gnu/"
  done
cp "$OUT/vecadd" "$ROOTFS/usr/local/bin/vecadd"
find "$ROOTFS" \( -iname '*nvidia*' -o -iname 'libcuda*' -o -iname '*nvcuvid*' \) | tee "$OUT/guest-nvidia-files-before.txt"
[[ -s $OUT/guest-nvidia-files-before.txt ]] && fail "the guest has NVIDIA files before the attachment"
ls "$ROOTFS/lib/x86_64-linux-gnu" "$ROOTFS/lib64"
grep -E 'devices|include' "$conf"
ok "guest rootfs has nothing of NVIDIA"

step "5. The GpuLxc service (self-contained publish), backend lxc, on 127.0.0.1:$PORT"
mkdir -p "$OUT/service" "$OUT/data"
tar -xJf "$publish" -C "$OUT/service"
GpuLxc__Host__Backend=lxc GpuLxc__DataDir="$OUT/data" Urls="http://127.0.0.1:$PORT" \
  GpuLxc__Auth__ApiKeys__proof__Key="$KEY" GpuLxc__Auth__ApiKeys__proof__Scopes=admin \
  "$OUT/service/GpuLxc.Api" >"$OUT/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$service_pid" 2>/dev/null || { cat "$OUT/service.log"; fail "the service exited"; }; sleep 0.2; done
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
