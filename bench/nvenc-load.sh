#!/usr/bin/env bash
# NVENC lease throughput with wrk, in one run on this machine: acquire+release pairs/s at 64 concurrent
# connections (limit 64, then limit 8 for contention), against plain GET /healthz requests/s, and the peak number
# of leases the service ever had active (must not exceed the limit). Needs wrk (apt-get install wrk) and root
# (the demo host's device nodes are made with mknod).
# Usage: sudo bench/nvenc-load.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-10}"
port="${GPULXC_BENCH_PORT:-5094}"
work="$(mktemp -d)"
trap 'kill "$service" 2>/dev/null || true; rm -rf "$work"' EXIT
dotnet publish src/Api -c Release -o "$work/app" -nologo -v quiet >/dev/null
cp -a samples/hosts/demo "$work/host"
samples/hosts/demo/materialize.sh "$work/host/root" >/dev/null
# No encode sessions running: the budget is the leases alone.
sed -i 's/, 1, 58, 2410, 9/, 0, 0, 0, 0/' "$work/host/bin/nvidia-smi"

run() { # $1 = limit
  rm -rf "$work/data"
  GpuLxc__DataDir="$work/data" GpuLxc__Host__Root="$work/host/root" GpuLxc__Host__BinPath="$work/host/bin" \
    GpuLxc__Nvenc__LimitOverride="$1" Urls="http://127.0.0.1:$port" Logging__LogLevel__Default=Warning \
    "$work/app/GpuLxc.Api" >"$work/service.log" 2>&1 &
  service=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done
  export GPULXC_KEY="$(cat "$work/data/api-key")"
  wrk -t2 -c64 -d2s -s bench/nvenc-pairs.lua "http://127.0.0.1:$port" >/dev/null   # warm-up
  sleep 7   # the warm-up's unreleased 5 s leases lapse and are reclaimed
  echo "limit $1: $(wrk -t2 -c64 -d"${seconds}s" -s bench/nvenc-pairs.lua "http://127.0.0.1:$port" | tail -1)"
  curl -sf -H "Authorization: Bearer $GPULXC_KEY" "http://127.0.0.1:$port/api/v1/nvenc" \
    | sed -n 's/.*"limit":\([0-9]*\).*"peakLeases":\([0-9]*\).*/  peak leases active at once: \2 (limit \1)/p'
}

run 64
echo "GET /healthz: $(wrk -t2 -c64 -d"${seconds}s" "http://127.0.0.1:$port/healthz" | grep 'Requests/sec')"
kill "$service"; wait "$service" 2>/dev/null || true
run 8
