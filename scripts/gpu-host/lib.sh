# What the proofs in this folder share, sourced by each after it sets NAME (its container), PORT and OUT (an absolute
# directory that exists). It runs on a GPU host that has no LXC and no .NET: LXC comes from Debian 12's packages
# (DEBDIR, see ../shared/gpu-host/fetch-debs.sh), GpuLxc from a self-contained publish.
#
# After sourcing: KEY (the admin key the service is started with), API, ROOTFS; everything printed also goes to
# $OUT/proof.log. A proof may define proof_cleanup, which runs first at exit (before the service is stopped and the
# containers in CONTAINERS are destroyed); KEEP=1 leaves the containers and the service running.

KEY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
API=http://127.0.0.1:$PORT/api/v1
ROOTFS=/var/lib/lxc/$NAME/rootfs
CONTAINERS=("$NAME")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
service_pid=
exec > >(tee "$OUT/proof.log") 2>&1

step() { printf '\n=== %s\n' "$*"; }
ok() { printf 'OK: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
inside() { lxc-attach -n "$NAME" -- "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
metrics() { curl -sS -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT/metrics"; }

# api METHOD PATH [BODY]: the answer's body on stdout, kept as $OUT/api-N.json and $OUT/api-last.json; fails unless
# the status is 2xx. api_status METHOD PATH [BODY]: the same without failing; the status goes to $OUT/api-status.
api() {
  api_status "$@"
  [[ $(cat "$OUT/api-status") == 2* ]] || fail "$1 $2 answered $(cat "$OUT/api-status")"
}
api_status() {
  local method=$1 path=$2 body=${3:-} file status
  file="$OUT/api-$(date +%s%N).json"
  status=$(curl -sS -o "$file" -w '%{http_code}' -X "$method" -H "X-Api-Key: $KEY" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} "$API$path")
  printf '%s %s -> %s (%s)\n' "$method" "$path" "$status" "$file" >&2
  cp "$file" "$OUT/api-last.json"
  echo "$status" >"$OUT/api-status"
  cat "$file"; echo
}

# wait_running [NAME]: until LXC says the container runs (10 s at most).
wait_running() {
  local name=${1:-$NAME}
  for _ in $(seq 1 100); do [[ $(lxc-info -n "$name" -s -H 2>/dev/null) == RUNNING ]] && return 0; sleep 0.1; done
  fail "container $name did not start (see $OUT/lxc-$name.log)"
}

cleanup() {
  [[ ${KEEP:-0} == 1 ]] && { echo "KEEP=1: containers ${CONTAINERS[*]} and the service (pid $service_pid) are left running"; return; }
  declare -F proof_cleanup >/dev/null && proof_cleanup
  [[ -n $service_pid ]] && kill "$service_pid" 2>/dev/null || true
  for name in "${CONTAINERS[@]}"; do
    lxc-stop -n "$name" -k >/dev/null 2>&1 || true
    lxc-destroy -n "$name" -f >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

# check_host: root, a loaded NVIDIA module, nvidia-smi and nvcc; sets version, host_smi, nvcc and libdir (the
# directory of the libnvidia-ml the loader opens).
check_host() {
  [[ $(id -u) == 0 ]] || fail "run as root"
  # Both banners: "… x86_64 Kernel Module  550.127.05  …" (proprietary) and "… Open Kernel Module for x86_64  580.159.04  …".
  version=$(grep -m1 '^NVRM version:' /proc/driver/nvidia/version | sed -E 's/.*Kernel Module( for [^ ]+)? +([0-9]+\.[0-9]+(\.[0-9]+)?).*/\2/' || true)
  [[ $version =~ ^[0-9]+\.[0-9]+ ]] || fail "no NVIDIA module is loaded (/proc/driver/nvidia/version)"
  export PATH=$PATH:/usr/local/nvidia/bin:/usr/local/cuda/bin
  host_smi=$(command -v nvidia-smi) || fail "nvidia-smi not found"
  nvcc=$(command -v nvcc) || fail "nvcc not found"
  libdir=$(dirname "$(readlink -f "$(ldconfig -p | awk '/libnvidia-ml.so.1 /{print $NF; exit}')")")
}

# unpack_lxc DEBDIR: Debian 12's LXC, unpacked only when the host has no lxc-start, with the libraries it lacks.
unpack_lxc() {
  local debs=$1 tmp n so
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
}

# build_cuda PROGRAM: compiles $HERE/PROGRAM.cu into $OUT/PROGRAM, for this GPU, with the CUDA runtime linked in.
build_cuda() {
  # glibc's libm.so linker script names /lib/x86_64-linux-gnu/…; a host whose /lib is not merged into /usr lacks that
  # path (seen on the GPU test host), so the link fails. Point it at /usr/lib's copy, and say so.
  if [[ ! -e /lib/x86_64-linux-gnu && -d /usr/lib/x86_64-linux-gnu ]]; then
    ln -s /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu
    echo "note: linked /lib/x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu (this host's /lib is not merged into /usr)"
  fi
  "$nvcc" -arch=sm_90 -cudart static -o "$OUT/$1" "$HERE/$1.cu"
}

# busybox_guest NAME [IDMAP_FILE] [PROGRAM...]: a busybox container with deny-all devices (LXC's common.conf), no
# network, no NVIDIA file, and its own C library: the host's glibc and C++ runtime that nvidia-smi, the driver's
# libraries and the PROGRAMs ($OUT/PROGRAM, copied to /usr/local/bin) need. With IDMAP_FILE ("-" for none) the
# container is unprivileged: created with those lxc.idmap lines, its rootfs owned by the mapped ids.
busybox_guest() {
  local name=$1 idmap=${2:--} conf rootfs lib
  shift 2 || shift $#
  conf=/var/lib/lxc/$name/config rootfs=/var/lib/lxc/$name/rootfs
  lxc-info -n "$name" >/dev/null 2>&1 && fail "container $name exists already; remove it or set NAME"
  if [[ $idmap == - ]]; then
    lxc-create -n "$name" -t busybox >"$OUT/lxc-create-$name.log" 2>&1 || { cat "$OUT/lxc-create-$name.log"; fail "lxc-create $name"; }
  else
    lxc-create -n "$name" -t busybox -f "$idmap" >"$OUT/lxc-create-$name.log" 2>&1 || { cat "$OUT/lxc-create-$name.log"; fail "lxc-create $name"; }
  fi
  # The busybox template binds the host's /lib and /usr/lib into the guest; this guest has its own.
  sed -i -E '/^lxc.mount.entry = \/(usr\/)?lib(64)? /d; /^lxc.net\./d' "$conf"
  echo 'lxc.net.0.type = empty' >>"$conf"   # no network: a default.conf's bridge may not exist here
  grep -q '^lxc.include = /usr/share/lxc/config/common.conf' "$conf" ||
    printf 'lxc.include = /usr/share/lxc/config/common.conf\nlxc.apparmor.profile = unconfined\n' >>"$conf"
  printf 'lxc.log.file = %s\nlxc.log.level = INFO\n' "$OUT/lxc-$name.log" >>"$conf"
  mkdir -p "$rootfs/lib/x86_64-linux-gnu" "$rootfs/lib64" "$rootfs/usr/local/bin"
  { ldd "$host_smi"; ldd "$libdir/libcuda.so.$version"; ldd "$libdir/libnvidia-ml.so.$version"; for p in "$@"; do ldd "$OUT/$p"; done; } 2>/dev/null |
    awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' | grep -viE 'nvidia|cuda' | sort -u | while read -r lib; do
      case $lib in */ld-linux-x86-64.so.2) cp -L "$lib" "$rootfs/lib64/ld-linux-x86-64.so.2" ;; esac
      cp -L "$lib" "$rootfs/lib/x86_64-linux-gnu/"
    done
  for p in "$@"; do cp "$OUT/$p" "$rootfs/usr/local/bin/$p"; done
  if [[ $idmap != - ]]; then
    # What was copied in as root belongs to the container's root (the first uid and gid the map gives it).
    local uid gid
    uid=$(awk '$1 == "lxc.idmap" && $3 == "u" && $4 == 0 {print $5}' "$idmap") gid=$(awk '$1 == "lxc.idmap" && $3 == "g" && $4 == 0 {print $5}' "$idmap")
    chown -R "$uid:$gid" "$rootfs/lib" "$rootfs/lib64" "$rootfs/usr/local"
  fi
}

# start_service PUBLISH: the GpuLxc service from its self-contained publish (a .tar.xz), backend lxc, admin key $KEY,
# data dir $OUT/data, on 127.0.0.1:$PORT; returns once /healthz answers.
start_service() {
  mkdir -p "$OUT/service" "$OUT/data"
  tar -xJf "$1" -C "$OUT/service"
  GpuLxc__Host__Backend=lxc GpuLxc__DataDir="$OUT/data" Urls="http://127.0.0.1:$PORT" \
    GpuLxc__Auth__ApiKeys__proof__Key="$KEY" GpuLxc__Auth__ApiKeys__proof__Scopes=admin \
    "$OUT/service/GpuLxc.Api" >"$OUT/service.log" 2>&1 &
  service_pid=$!
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$service_pid" 2>/dev/null || { cat "$OUT/service.log"; fail "the service exited"; }; sleep 0.2; done
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "the service did not answer /healthz in 30 s"
}
