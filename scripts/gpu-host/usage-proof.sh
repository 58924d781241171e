#!/usr/bin/env bash
# Proof of GPU use per container (issue 19) on a real GPU host: a CUDA program that allocates 1 GiB and keeps a kernel
# running, started inside a real LXC container attached through GpuLxc's API, shows up in
# GET /api/v1/containers/<name>/gpu/usage and in /metrics with its container and about 1 GiB; after it ends it is
# gone from both. /metrics scrapes are timed while it runs.
#
# Usage (as root): usage-proof.sh PUBLISH.tar.xz DEBDIR [OUT]
#   PUBLISH.tar.xz  `dotnet publish src/Api -c Release -r linux-x64 --self-contained -o gpulxc` packed with
#                   `tar -cJf gpulxc.tar.xz -C gpulxc .` (the host has no .NET and no network)
#   DEBDIR          Debian 12's lxc, liblxc1, liblxc-common, busybox-static and the libraries LXC needs (see
#                   ../shared/gpu-host/fetch-debs.sh); unpacked only when the host has no lxc-start
#   OUT             where every log and result goes (default ./usage-proof-out); proof.log is the summary
# Environment: PORT (default 5121), NAME (container, default gpulxc-usage), SCRAPES (default 200), KEEP=1 leaves the
# container and the service.
set -euo pipefail

publish=${1:?usage: usage-proof.sh PUBLISH.tar.xz DEBDIR [OUT]}
debs=${2:?usage: usage-proof.sh PUBLISH.tar.xz DEBDIR [OUT]}
OUT=$(mkdir -p "${3:-./usage-proof-out}" && cd "${3:-./usage-proof-out}" && pwd)
PORT=${PORT:-5121}
NAME=${NAME:-gpulxc-usage}
SCRAPES=${SCRAPES:-200}
KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
API=http://127.0.0.1:$PORT/api/v1
ROOTFS=/var/lib/lxc/$NAME/rootfs
GIB=1073741824
exec > >(tee "$OUT/proof.log") 2>&1

step() { printf '\n=== %s\n' "$*"; }
ok() { printf 'OK: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
inside() { lxc-attach -n "$NAME" -- "$@"; }
api() { # METHOD PATH [BODY] -> body on stdout; fails on a non-2xx status
  local method=$1 path=$2 body=${3:-} file="$OUT/api-last.json" status
  status=$(curl -sS -o "$file" -w '%{http_code}' -X "$method" -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} "$API$path")
  printf '%s %s -> %s\n' "$method" "$path" "$status" >&2
  cat "$file"; echo
  [[ $status == 2* ]] || fail "$method $path answered $status"
}
metrics() { curl -sS -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT/metrics"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
wait_running() {
  for _ in $(seq 1 100); do [[ $(lxc-info -n "$NAME" -s -H 2>/dev/null) == RUNNING ]] && return 0; sleep 0.1; done
  fail "container $NAME did not start (see $OUT/lxc-$NAME.log)"
}
service_pid=
hold_pid=
cleanup() {
  [[ ${KEEP:-0} == 1 ]] && { echo "KEEP=1: container $NAME and the service (pid $service_pid) are left running"; return; }
  [[ -n $hold_pid ]] && kill "$hold_pid" 2>/dev/null || true
  [[ -n $service_pid ]] && kill "$service_pid" 2>/dev/null || true
  lxc-stop -n "$NAME" -k >/dev/null 2>&1 || true
  lxc-destroy -n "$NAME" -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "1. The host: root, a loaded NVIDIA module, nvidia-smi, nvcc"
[[ $(id -u) == 0 ]] || fail "run as root"
version=$(grep -m1 '^NVRM version:' /proc/driver/nvidia/version | sed -E 's/.*Kernel Module( for [^ ]+)? +([0-9]+\.[0-9]+(\.[0-9]+)?).*/\2/' || true)
[[ $version =~ ^[0-9]+\.[0-9]+ ]] || fail "no NVIDIA module is loaded (/proc/driver/nvidia/version)"
export PATH=$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin
host_smi=$(command -v nvidia-smi) || fail "nvidia-smi not found"
nvcc=$(command -v nvcc) || fail "nvcc not found"
"$host_smi" --query-gpu=index,name,driver_version,memory.used,memory.total --format=csv,noheader
"$host_smi" --query-compute-apps=pid,used_memory --format=csv,noheader | tee "$OUT/host-apps-before.txt"
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

step "3. A CUDA program built here: allocates 1 GiB, then keeps a kernel running for the seconds it is given"
cat >"$OUT/hold.cu" <<'CUDA'
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cuda_runtime.h>
__global__ void spin(float *p, long long cycles) {
  long long start = clock64();
  while (clock64() - start < cycles) p[threadIdx.x] += 1.0f;
}
int main(int argc, char **argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 30;
  float *p;
  cudaError_t e = cudaMalloc(&p, 1ull << 30);
  if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
  cudaMemset(p, 0, 1ull << 30);
  cudaDeviceSynchronize();
  printf("READY: 1 GiB allocated, spinning for %d s\n", seconds); fflush(stdout);
  time_t end = time(nullptr) + seconds;
  while (time(nullptr) < end) {
    spin<<<132, 256>>>(p, 200000000LL);
    e = cudaDeviceSynchronize();
    if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 2; }
  }
  cudaFree(p);
  printf("DONE\n");
  return 0;
}
CUDA
if [[ ! -e /lib/x86_64-linux-gnu && -d /usr/lib/x86_64-linux-gnu ]]; then
  ln -s /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu
  echo "note: linked /lib/x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu (this host's /lib is not merged into /usr)"
fi
"$nvcc" -arch=sm_90 -cudart static -o "$OUT/hold" "$OUT/hold.cu"
ok "built $OUT/hold"

step "4. A busybox container with its own C library, deny-all devices"
lxc-info -n "$NAME" >/dev/null 2>&1 && fail "container $NAME exists already; remove it or set NAME"
lxc-create -n "$NAME" -t busybox >"$OUT/lxc-create.log" 2>&1
conf=/var/lib/lxc/$NAME/config
sed -i -E '/^lxc.mount.entry = \/(usr\/)?lib(64)? /d; /^lxc.net\./d' "$conf"
echo 'lxc.net.0.type = empty' >>"$conf"
grep -q '^lxc.include = /usr/share/lxc/config/common.conf' "$conf" ||
  printf 'lxc.include = /usr/share/lxc/config/common.conf\nlxc.apparmor.profile = unconfined\n' >>"$conf"
printf 'lxc.log.file = %s\nlxc.log.level = INFO\n' "$OUT/lxc-$NAME.log" >>"$conf"
mkdir -p "$ROOTFS/lib/x86_64-linux-gnu" "$ROOTFS/lib64" "$ROOTFS/usr/local/bin"
libdir=$(dirname "$(readlink -f "$(ldconfig -p | awk '/libnvidia-ml.so.1 /{print $NF; exit}')")")
{ ldd "$host_smi"; ldd "$OUT/hold"; ldd "$libdir/libcuda.so.$version"; ldd "$libdir/libnvidia-ml.so.$version"; } 2>/dev/null |
  awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' | grep -viE 'nvidia|cuda' | sort -u | while read -r lib; do
    case $lib in */ld-linux-x86-64.so.2) cp -L "$lib" "$ROOTFS/lib64/ld-linux-x86-64.so.2" ;; esac
    cp -L "$lib" "$ROOTFS/lib/x86_64-linux-gnu/"
  done
cp "$OUT/hold" "$ROOTFS/usr/local/bin/hold"
ok "container $NAME created"

step "5. The GpuLxc service (self-contained publish), backend lxc, on 127.0.0.1:$PORT"
mkdir -p "$OUT/service" "$OUT/data"
tar -xJf "$publish" -C "$OUT/service"
GpuLxc__Host__Backend=lxc GpuLxc__DataDir="$OUT/data" Urls="http://127.0.0.1:$PORT" \
  GpuLxc__Auth__ApiKeys__proof__Key="$KEY" GpuLxc__Auth__ApiKeys__proof__Scopes=admin \
  "$OUT/service/GpuLxc.Api" >"$OUT/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$service_pid" 2>/dev/null || { cat "$OUT/service.log"; fail "the service exited"; }; sleep 0.2; done
api GET /gpus | json "[(g['index'], g['pciAddress'], g['name'], g['sources']) for g in d['gpus']]" || true
ok "service up (pid $service_pid)"

step "6. Attach with userspace host (PUT /containers/$NAME/gpu) and start the container"
api PUT "/containers/$NAME/gpu" '{"userspace":"host"}' >"$OUT/attach.json"
grep -E '^lxc\.(mount\.entry|cgroup2?\.devices\.allow)' "$conf" | head -5
lxc-start -n "$NAME"; wait_running
inside nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
step "7. Before the program: the container uses nothing"
api GET "/containers/$NAME/gpu/usage" | tee "$OUT/usage-before.json"
[[ $(json "d['usedMemoryBytes']" <"$OUT/api-last.json") == 0 ]] || fail "the container uses GPU memory before the program ran"

step "8. The program inside the container (30 s); GpuLxc's view while it runs"
inside /usr/local/bin/hold 30 >"$OUT/hold-inside.log" 2>&1 &
hold_pid=$!
for _ in $(seq 1 100); do grep -q READY "$OUT/hold-inside.log" && break
  kill -0 "$hold_pid" 2>/dev/null || { cat "$OUT/hold-inside.log"; fail "the program ended early"; }; sleep 0.2; done
cat "$OUT/hold-inside.log"
"$host_smi" --query-compute-apps=pid,used_memory --format=csv,noheader | tee "$OUT/host-apps-during.txt"
for pid in $("$host_smi" --query-compute-apps=pid --format=csv,noheader); do echo "/proc/$pid/cgroup: $(cat /proc/"$pid"/cgroup 2>&1)"; done
sleep 2   # one NVML utilisation sample period with the kernel running
api GET "/containers/$NAME/gpu/usage" | tee "$OUT/usage-during.json"
used=$(json "d['usedMemoryBytes']" <"$OUT/api-last.json")
[[ $used -ge $GIB && $used -lt $((2 * GIB)) ]] || fail "the container's usage is $used bytes, not about 1 GiB"
ok "usage of $NAME: $used bytes ($((used / 1048576)) MiB), sm $(json "d['gpus'][0]['smPercent']" <"$OUT/api-last.json" || true) %"
api GET "/gpus/0/processes" | tee "$OUT/processes-during.json"
json "[(p['pid'], p['owner'], p['containerId'], p['usedMemoryBytes'], p['smPercent']) for p in d['processes']]" <"$OUT/api-last.json" || true
json "d['totals']" <"$OUT/api-last.json" || true
metrics >"$OUT/metrics-during.txt"
grep -E '^gpulxc_(container_gpu|gpu_(memory|utilization|temperature|power|clock|unattributed))' "$OUT/metrics-during.txt"
line=$(grep -E "^gpulxc_container_gpu_memory_bytes\{container=\"$NAME\",gpu=\"[^\"]+\"\} " "$OUT/metrics-during.txt") ||
  fail "/metrics has no gpulxc_container_gpu_memory_bytes for $NAME"
value=$(awk '{printf "%.0f", $2}' <<<"$line")
[[ $value -ge $GIB && $value -lt $((2 * GIB)) ]] || fail "/metrics says $value bytes for $NAME"
grep -q 'pid=' "$OUT/metrics-during.txt" && fail "/metrics carries a pid label"
ok "/metrics: $line"

step "9. /metrics scrape time with the program running ($SCRAPES scrapes, one after another)"
for _ in $(seq 1 "$SCRAPES"); do
  curl -sS -o /dev/null -w '%{time_total}\n' -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT/metrics"
done >"$OUT/scrape-times.txt"
sort -n "$OUT/scrape-times.txt" | awk '{t[NR] = $1 * 1000} END {
  printf "scrapes %d: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", NR, t[int(NR * 0.5)], t[int(NR * 0.9)], t[int(NR * 0.99)], t[NR] }' |
  tee "$OUT/scrape-summary.txt"

step "10. The program ends: it is gone from the usage and from /metrics"
wait "$hold_pid" || true
hold_pid=
tail -1 "$OUT/hold-inside.log"
sleep 1   # past the sweep's 0.5 s
api GET "/containers/$NAME/gpu/usage" | tee "$OUT/usage-after.json"
[[ $(json "len(d['gpus'])" <"$OUT/api-last.json") == 0 ]] || fail "the container still has GPU use after the program ended"
metrics >"$OUT/metrics-after.txt"
grep -q "container=\"$NAME\"" "$OUT/metrics-after.txt" && fail "/metrics still has series of $NAME"
api GET "/gpus/0/processes" | json "d['processes']" || true
ok "gone from GET /containers/$NAME/gpu/usage and /metrics"

step "DONE: usage proof passed on $(hostname) with driver $version; logs in $OUT"
