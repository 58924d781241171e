#!/usr/bin/env bash
# Start-to-ready time and idle memory of the service as the README installs it: a self-contained linux-x64 Release
# publish (ReadyToRun, with the runtime settings of src/Api/GpuLxc.Api.csproj).
# Usage: bench/startup.sh [runs]   (default 5)
#   GPULXC_BENCH_PORT  port to listen on (default 5091)
#   GPULXC_BENCH_APP   an existing publish folder to measure instead of publishing this checkout
# Each run starts with an empty data dir (the first start: key, schema and data-protection key are created), waits
# for /readyz, makes one /api/v1/host request, idles 5 s and reads VmRSS. It prints one line per run, then the median
# and the minimum of each figure: on a shared machine the minimum is the least disturbed run.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-5}"
port="${GPULXC_BENCH_PORT:-5091}"
out="$(mktemp -d)"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"' EXIT

app="${GPULXC_BENCH_APP:-}"
if [ -z "$app" ]; then
  app="$out/app"
  dotnet publish src/Api -c Release -r linux-x64 --self-contained -o "$app" -nologo -v quiet >/dev/null
fi

if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "port $port is in use: set GPULXC_BENCH_PORT" >&2
  exit 1
fi

ticks=$(getconf CLK_TCK)
ready_ms=() cpu_ms=() rss_mib=()
for run in $(seq 1 "$runs"); do
  data="$out/data-$run"
  start=$(date +%s%N)
  GpuLxc__DataDir="$data" Urls="http://127.0.0.1:$port" "$app/GpuLxc.Api" >"$out/log-$run" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$out/log-$run"; exit 1; }
    sleep 0.01
  done
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  # CPU time the process used until it was ready (user + system): less sensitive to other load than wall time.
  cpu=$(awk -v t="$ticks" '{print int(($14 + $15) * 1000 / t)}' "/proc/$pid/stat")
  key="$(cat "$data/api-key")"
  curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/host" >/dev/null
  sleep 5
  rss=$(( $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") / 1024 ))
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pid=
  ready_ms+=("$ready") cpu_ms+=("$cpu") rss_mib+=("$rss")
  echo "run $run: ready in ${ready} ms (${cpu} ms CPU), idle RSS ${rss} MiB (after one /api/v1/host request and 5 s idle)"
done

summary() {
  local sorted
  sorted=($(printf '%s\n' "$@" | sort -n))
  echo "median ${sorted[$(( $# / 2 ))]}, min ${sorted[0]}"
}
echo "start-to-ready ms: $(summary "${ready_ms[@]}") over $runs runs"
echo "CPU ms until ready: $(summary "${cpu_ms[@]}")"
echo "idle RSS MiB: $(summary "${rss_mib[@]}")"
