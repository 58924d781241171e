#!/usr/bin/env bash
# PUT /api/v1/containers/{id}/gpu on a Proxmox host with 200 containers; GET /api/v1/containers, one attachment and
# GET /api/v1/attachments with 500 (50 attached).
# The host is the demo host (samples/hosts/demo) with generated container configs and a stub pct; run as root
# (its device nodes are made with mknod). Every measured PUT changes the config (it alternates between two
# attachments), so each one takes the lock, writes the file atomically, keeps a backup and appends an audit row.
# Usage: sudo bench/containers.sh [puts] [gets]   (GPULXC_BENCH_PORT, default 5093; GPULXC_BENCH_APP, see below)
set -euo pipefail
cd "$(dirname "$0")/.."

puts="${1:-200}"
gets="${2:-100}"
port="${GPULXC_BENCH_PORT:-5093}"
work="$(mktemp -d)"
trap 'kill "$service" 2>/dev/null || true; rm -rf "$work"' EXIT
# GPULXC_BENCH_APP: an unpacked Release publish to use instead of building one (a machine without .NET).
if [[ -n ${GPULXC_BENCH_APP:-} ]]; then
  ln -s "$(cd "$GPULXC_BENCH_APP" && pwd)" "$work/app"
else
  dotnet publish src/Api -c Release -o "$work/app" -nologo -v quiet >/dev/null
fi

host() { # $1 = number of containers
  rm -rf "$work/host" && cp -a samples/hosts/demo "$work/host"
  samples/hosts/demo/materialize.sh "$work/host/root" >/dev/null
  rm -f "$work/host/root/etc/pve/lxc/"*.conf
  for i in $(seq 1 "$1"); do
    vmid=$((1000 + i))
    sed "s/jellyfin/ct$vmid/; s/vm-101-disk/vm-$vmid-disk/" samples/hosts/demo/root/etc/pve/lxc/101.conf > "$work/host/root/etc/pve/lxc/$vmid.conf"
  done
  cat > "$work/host/bin/pct" <<'PCT'
#!/bin/sh
case "$1" in
  list) echo "VMID       Status     Lock         Name"
        for f in "$(dirname "$0")"/../root/etc/pve/lxc/*.conf; do v=${f##*/}; v=${v%.conf}; echo "$v        stopped                 ct$v"; done ;;
  status) echo "status: stopped" ;;
esac
PCT
  chmod +x "$work/host/bin/pct"
}

start() {
  rm -rf "$work/data"
  GpuLxc__DataDir="$work/data" GpuLxc__Host__Root="$work/host/root" GpuLxc__Host__BinPath="$work/host/bin" \
    Urls="http://127.0.0.1:$port" "$work/app/GpuLxc.Api" >"$work/service.log" 2>&1 &
  service=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done
  key="$(cat "$work/data/api-key")"
}

stop() { kill "$service"; wait "$service" 2>/dev/null || true; }
p50() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
p99() { sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; print v[i]}'; }

host 200; start
bodies=('{"mode":"raw"}' '{"mode":"raw","includeModeset":false}')
for i in $(seq 1 20); do  # warm-up
  curl -sf -o /dev/null -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "${bodies[$((i % 2))]}" "http://127.0.0.1:$port/api/v1/containers/1001/gpu"
done
put_ms="$(for i in $(seq 1 "$puts"); do
  vmid=$((1001 + (i % 200)))
  curl -sf -o /dev/null -w '%{time_total}\n' -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "${bodies[$(( (i / 200) % 2 ))]}" "http://127.0.0.1:$port/api/v1/containers/$vmid/gpu"
done | awk '{printf "%.3f\n", $1 * 1000}')"
attached="$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/attachments" | grep -o '"containerId"' | wc -l)"
stop
echo "PUT /containers/{id}/gpu, 200 containers: p50 $(p50 <<<"$put_ms") ms, p99 $(p99 <<<"$put_ms") ms over $puts writes ($attached attachments at the end)"

host 500; start
for i in $(seq 1 50); do  # attach a tenth of them, so the listing computes drift too
  curl -sf -o /dev/null -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d '{"mode":"raw"}' "http://127.0.0.1:$port/api/v1/containers/$((1000 + i * 10))/gpu"
done
for _ in $(seq 1 10); do curl -sf -o /dev/null -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/containers"; done
get_ms="$(for _ in $(seq 1 "$gets"); do
  curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/containers"
done | awk '{printf "%.3f\n", $1 * 1000}')"
listed="$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/containers" | grep -o '"id"' | wc -l)"
# One attachment and every attachment: each read also reads the host's GPUs, nodes, userspace and boot sources once
# (the plan context) to compute drift.
one_ms="$(for _ in $(seq 1 "$gets"); do
  curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/containers/1010/gpu"
done | awk '{printf "%.3f\n", $1 * 1000}')"
all_ms="$(for _ in $(seq 1 "$gets"); do
  curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/attachments"
done | awk '{printf "%.3f\n", $1 * 1000}')"
stop
echo "GET /containers, 500 containers ($listed listed, 50 attached): p50 $(p50 <<<"$get_ms") ms, p99 $(p99 <<<"$get_ms") ms over $gets requests"
echo "GET /containers/{id}/gpu, one attachment with drift: p50 $(p50 <<<"$one_ms") ms, p99 $(p99 <<<"$one_ms") ms over $gets requests"
echo "GET /attachments, 50 attachments with drift: p50 $(p50 <<<"$all_ms") ms, p99 $(p99 <<<"$all_ms") ms over $gets requests"
