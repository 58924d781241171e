#!/usr/bin/env bash
# Module change → re-sync job, with GpuLxc:Guardian:Policy=auto, on the demo host (container 101 running with its
# GPU attached, a stub pct). Each round "reboots" the host into another module version: the service stops, the
# banner, sysfs and modinfo of the host tree change, the service starts again on the same data directory. Reported
# per round: process start → the re-sync job's createdAt (what a reboot costs on top of the boot itself), and the
# guardian's own figure, from the start of the check that saw the change to the job's creation. Then, with the
# service running and GpuLxc:Guardian:CheckSeconds=1, the banner alone changes: change → job created.
# Release build, embedded SQLite job storage; run as root (the demo host's device nodes are made with mknod).
# Usage: sudo bench/guardian-resync.sh [rounds]   (GPULXC_BENCH_APP=<dir of a Release publish> skips publishing)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-10}"
port="${GPULXC_BENCH_PORT:-5095}"
key="bench-admin-key-0123456789abcdef"
work="$(mktemp -d)"
service=
trap 'kill "$service" 2>/dev/null || true; rm -rf "$work"' EXIT
app="${GPULXC_BENCH_APP:-$work/app}" # an earlier Release publish of this tree, to skip publishing
[ -x "$app/GpuLxc.Api" ] || dotnet publish src/Api -c Release -o "$app" -nologo -v quiet >/dev/null

cp -a samples/hosts/demo "$work/host"
samples/hosts/demo/materialize.sh "$work/host/root" >/dev/null
cat > "$work/host/bin/pct" <<'PCT'
#!/bin/sh
case "$1" in
  list) printf 'VMID       Status     Lock         Name\n101        running                 jellyfin\n' ;;
  status) echo "status: running" ;;
  exec) exit 0 ;;
esac
PCT
chmod +x "$work/host/bin/pct"
api="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer $key")

start() { # $1: check seconds
  GpuLxc__DataDir="$work/data" GpuLxc__Host__Root="$work/host/root" GpuLxc__Host__BinPath="$work/host/bin" \
    GpuLxc__Auth__ApiKeys__bench__Key="$key" GpuLxc__Auth__ApiKeys__bench__Scopes=admin \
    GpuLxc__Guardian__Policy=auto GpuLxc__Guardian__CheckSeconds="$1" \
    Urls="http://127.0.0.1:$port" "$app/GpuLxc.Api" >>"$work/service.log" 2>&1 &
  service=$!
}
stop() { kill "$service"; wait "$service" 2>/dev/null || true; }
load() { # $1: module version
  printf 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  %s  Tue Oct  8 03:22:07 UTC 2024\n' "$1" > "$work/host/root/proc/driver/nvidia/version"
  echo "$1" > "$work/host/root/sys/module/nvidia/version"
  sed -i "s/version) echo \"[0-9.]*\"/version) echo \"$1\"/" "$work/host/bin/modinfo"
}
now_ms() { date +%s%3N; }
wait_job() { # $1: job count to exceed; prints the newest re-sync job once there is one more
  for _ in $(seq 1 3000); do
    local jobs; jobs=$(curl -sf "${auth[@]}" "$api/api/v1/jobs?kind=driverResync" || echo '[]')
    if [ "$(jq length <<<"$jobs")" -gt "$1" ]; then jq -c '.[0]' <<<"$jobs"; return; fi
    sleep 0.01
  done
  echo "no re-sync job" >&2; exit 1
}

start 30
for _ in $(seq 1 150); do curl -sf "$api/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "${auth[@]}" -X PUT -H 'Content-Type: application/json' -d '{}' "$api/api/v1/containers/101/gpu" >/dev/null
until [ "$(curl -sf "${auth[@]}" "$api/api/v1/host/guardian" | jq -r .checkedAt)" != null ]; do sleep 0.1; done
stop

versions=(550.135 550.127.05)
echo "round  process start → job created (ms)  check start → job created (ms)  of which reading the host (ms)"
for round in $(seq 1 "$rounds"); do
  count=$((round - 1))
  load "${versions[$(((round - 1) % 2))]}"
  t0=$(now_ms); start 30
  job=$(wait_job "$count")
  created=$(date -d "$(jq -r .createdAt <<<"$job")" +%s%3N)
  curl -sf "${auth[@]}" "$api/api/v1/jobs/$(jq -r .id <<<"$job")?waitSeconds=30" >/dev/null
  line=$(grep -o "re-sync job $(jq -r .id <<<"$job") created [0-9.]* ms .*reading the host: [0-9.]* ms" "$work/service.log")
  printf '%5d  %32d  %30s  %30s\n' "$round" $((created - t0)) "$(awk '{print $5}' <<<"$line")" "$(grep -o 'host: [0-9.]*' <<<"$line" | cut -d' ' -f2)"
  stop
done

start 1
for _ in $(seq 1 150); do curl -sf "$api/readyz" >/dev/null && break; sleep 0.2; done
sleep 2
count=$(curl -sf "${auth[@]}" "$api/api/v1/jobs?kind=driverResync" | jq length)
load 550.142
t0=$(now_ms)
job=$(wait_job "$count")
echo "running service, CheckSeconds=1: module change → job created $(( $(date -d "$(jq -r .createdAt <<<"$job")" +%s%3N) - t0 )) ms"
