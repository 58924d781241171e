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
GIB=1073741824
hold_pid=
proof_cleanup() { [[ -n $hold_pid ]] && kill "$hold_pid" 2>/dev/null || true; }
. "$(dirname "$0")/lib.sh"
conf=/var/lib/lxc/$NAME/config

step "1. The host: root, a loaded NVIDIA module, nvidia-smi, nvcc"
check_host
"$host_smi" --query-gpu=index,name,driver_version,memory.used,memory.total --format=csv,noheader
"$host_smi" --query-compute-apps=pid,used_memory --format=csv,noheader | tee "$OUT/host-apps-before.txt"
ok "module $version, $host_smi, $nvcc"

step "2. LXC (Debian 12's packages, unpacked only when the host has none)"
unpack_lxc "$debs"

step "3. A CUDA program built here: allocates 1 GiB, then keeps a kernel running for the seconds it is given"
build_cuda hold
ok "built $OUT/hold"

step "4. A busybox container with its own C library, deny-all devices"
busybox_guest "$NAME" - hold
ok "container $NAME created"

step "5. The GpuLxc service (self-contained publish), backend lxc, on 127.0.0.1:$PORT"
start_service "$publish"
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
