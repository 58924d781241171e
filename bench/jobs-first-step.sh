#!/usr/bin/env bash
# Job creation → first step started: POST /api/v1/containers/101/gpu/verify on the demo host (container 101 running,
# its GPU attached, a stub pct whose exec answers at once) and, for each job, the time from its createdAt to its
# first step's startedAt, as the service records them. Release build, embedded SQLite job storage; run as root (the
# demo host's device nodes are made with mknod).
# Usage: sudo bench/jobs-first-step.sh [jobs]
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${1:-200}"
port="${GPULXC_BENCH_PORT:-5094}"
key="bench-admin-key-0123456789abcdef"
work="$(mktemp -d)"
trap 'kill "$service" 2>/dev/null || true; rm -rf "$work"' EXIT
dotnet publish src/Api -c Release -o "$work/app" -nologo -v quiet >/dev/null

cp -a samples/hosts/demo "$work/host"
samples/hosts/demo/materialize.sh "$work/host/root" >/dev/null
cat > "$work/host/bin/pct" <<'PCT'
#!/bin/sh
case "$1" in
  list) printf 'VMID       Status     Lock         Name\n101        running                 jellyfin\n' ;;
  status) echo "status: running" ;;
  exec) shift 3; case "$1" in cat) printf 'ID=debian\nVERSION_CODENAME=bookworm\n' ;; nvidia-smi) echo 550.127.05 ;; esac ;;
esac
PCT
chmod +x "$work/host/bin/pct"

GpuLxc__DataDir="$work/data" GpuLxc__Host__Root="$work/host/root" GpuLxc__Host__BinPath="$work/host/bin" \
  GpuLxc__Auth__ApiKeys__bench__Key="$key" GpuLxc__Auth__ApiKeys__bench__Scopes=admin \
  Urls="http://127.0.0.1:$port" "$work/app/GpuLxc.Api" >"$work/service.log" 2>&1 &
service=$!
api="http://127.0.0.1:$port"
for _ in $(seq 1 150); do curl -sf "$api/readyz" >/dev/null && break; sleep 0.2; done
auth=(-H "Authorization: Bearer $key")
curl -sf "${auth[@]}" -X PUT -H 'Content-Type: application/json' -d '{}' "$api/api/v1/containers/101/gpu" >/dev/null

: > "$work/jobs.jsonl"
for _ in $(seq 1 "$jobs"); do
  id=$(curl -sf "${auth[@]}" -X POST "$api/api/v1/containers/101/gpu/verify" | jq -r .id)
  curl -sf "${auth[@]}" "$api/api/v1/jobs/$id?waitSeconds=30" >> "$work/jobs.jsonl"
  echo >> "$work/jobs.jsonl"
done

python3 - "$work/jobs.jsonl" <<'PY'
import json, sys, statistics
from datetime import datetime
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00"))
ms = sorted((t(j["steps"][0]["startedAt"]) - t(j["createdAt"])).total_seconds() * 1000
            for j in map(json.loads, filter(str.strip, open(sys.argv[1]))))
q = statistics.quantiles(ms, n=100)
print(f"job creation -> first step started over {len(ms)} jobs: p50 {statistics.median(ms):.1f} ms, p90 {q[89]:.1f} ms, p99 {q[98]:.1f} ms, max {ms[-1]:.1f} ms")
PY
