#!/usr/bin/env bash
# GET /api/v1/gpus (live encoder counters via NVML) against one `nvidia-smi --query-gpu` call, on a host with a
# real NVIDIA GPU. Usage: bench/gpus-vs-nvidia-smi.sh <service binary> [requests] [nvidia-smi runs]
# The service is started on a loopback port with a fresh data dir; request times are curl's own time_total.
set -euo pipefail

binary="$1"
requests="${2:-500}"
smi_runs="${3:-50}"
port="${GPULXC_BENCH_PORT:-5092}"
data="$(mktemp -d)"
GpuLxc__DataDir="$data" Urls="http://127.0.0.1:$port" "$binary" >"$data/service.log" 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null; rm -rf "$data"' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
  kill -0 "$service" 2>/dev/null || { cat "$data/service.log"; exit 1; }
  sleep 0.05
done
key="$(cat "$data/api-key")"
url="http://127.0.0.1:$port/api/v1/gpus"

p50() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
p99() { sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; print v[i]}'; }

# Warm up: JIT, NVML initialisation, the topology cache.
for _ in $(seq 1 50); do curl -sf -o /dev/null -H "Authorization: Bearer $key" "$url"; done

# A new curl (and TCP connection) per request, as a shell script polling the API would do.
api_ms="$(for _ in $(seq 1 "$requests"); do
  curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" "$url"
done | awk '{printf "%.3f\n", $1 * 1000}')"

# One curl reusing its connection, as a long-lived client (Home Assistant, the C# client) does.
urls=(); for _ in $(seq 1 "$requests"); do urls+=("$url"); done
kept_ms="$(curl -sf -w '\nTIME %{time_total}\n' -H "Authorization: Bearer $key" "${urls[@]}" \
  | awk '/^TIME / {printf "%.3f\n", $2 * 1000}')"

fields="index,uuid,name,pci.bus_id,driver_version,encoder.stats.sessionCount,encoder.stats.averageFps,encoder.stats.averageLatency"
smi_ms="$(for _ in $(seq 1 "$smi_runs"); do
  start=$(date +%s%N)
  nvidia-smi --query-gpu="$fields" --format=csv,noheader,nounits >/dev/null
  echo "$(( $(date +%s%N) - start ))" | awk '{printf "%.3f\n", $1 / 1000000}'
done)"

api_p50="$(p50 <<<"$api_ms")"; api_p99="$(p99 <<<"$api_ms")"
kept_p50="$(p50 <<<"$kept_ms")"; kept_p99="$(p99 <<<"$kept_ms")"
smi_p50="$(p50 <<<"$smi_ms")"; smi_p99="$(p99 <<<"$smi_ms")"
echo "GET /api/v1/gpus : p50 ${api_p50} ms, p99 ${api_p99} ms over $requests requests (new connection each)"
echo "GET /api/v1/gpus : p50 ${kept_p50} ms, p99 ${kept_p99} ms over $requests requests (kept-alive connection)"
echo "nvidia-smi query : p50 ${smi_p50} ms, p99 ${smi_p99} ms over $smi_runs runs"
awk -v a="$api_p50" -v k="$kept_p50" -v s="$smi_p50" \
  'BEGIN {printf "ratio (nvidia-smi p50 / API p50): %.1fx with a new connection each, %.1fx kept alive\n", s / a, s / k}'
echo "--- the response"
curl -sf -H "Authorization: Bearer $key" "$url"; echo
