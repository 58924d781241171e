#!/usr/bin/env bash
# Start-to-ready time and idle memory of a Release publish of the service.
# Usage: bench/startup.sh [runs]   (default 5). Prints one line per run and the median.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-5}"
port="${GPULXC_BENCH_PORT:-5091}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
dotnet publish src/Api -c Release -o "$out/app" -nologo -v quiet >/dev/null

ready_ms=()
for run in $(seq 1 "$runs"); do
  data="$out/data-$run"
  start=$(date +%s%N)
  GpuLxc__DataDir="$data" Urls="http://127.0.0.1:$port" "$out/app/GpuLxc.Api" >"$out/log-$run" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$out/log-$run"; exit 1; }
    sleep 0.01
  done
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  key="$(cat "$data/api-key")"
  curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/host" >/dev/null
  sleep 5
  rss_kib=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  ready_ms+=("$ready")
  echo "run $run: ready in ${ready} ms, idle RSS $((rss_kib / 1024)) MiB (after one /api/v1/host request and 5 s idle)"
done
sorted=($(printf '%s\n' "${ready_ms[@]}" | sort -n))
echo "median start-to-ready: ${sorted[$(( runs / 2 ))]} ms over $runs runs"
