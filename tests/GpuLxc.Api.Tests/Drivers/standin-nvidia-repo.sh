# Stand-in NVIDIA packages for real apt: the dependency graph of Debian's (and, assumed, Ubuntu's) packages with
# placeholder files. Usage: bash repo.sh COMMAND ARGS…; every .deb lands in a pool directory, then `index` writes
# the Packages file apt reads.
set -eu
ARCHLIB=/usr/lib/x86_64-linux-gnu
# A real ELF shared object (no code) whose SONAME is libnvidia-ml.so.1, so that ldconfig caches it as the loader would.
NVML_ELF='f0VMRgIBAQAAAAAAAAAAAAMAPgABAAAAAAAAAAAAAABAAAAAAAAAADACAAAAAAAAAAAAAEAAOAADAEAABwAGAAEAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAOAEAAAAAAAA4AQAAAAAAAAAQAAAAAAAAAQAAAAYAAAA4AQAAAAAAADgRAAAAAAAAOBEAAAAAAADAAAAAAAAAAMAAAAAAAAAAABAAAAAAAAACAAAABgAAADgBAAAAAAAAOBEAAAAAAAA4EQAAAAAAAMAAAAAAAAAAwAAAAAAAAAAIAAAAAAAAAAEAAAABAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGxpYm52aWRpYS1tbC5zby4xAAAAAAAADgAAAAAAAAABAAAAAAAAAPX+/28AAAAA6AAAAAAAAAAFAAAAAAAAACABAAAAAAAABgAAAAAAAAAIAQAAAAAAAAoAAAAAAAAAEwAAAAAAAAALAAAAAAAAABgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAC5zaHN0cnRhYgAuZ251Lmhhc2gALmR5bnN5bQAuZHluc3RyAC5laF9mcmFtZQAuZHluYW1pYwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACwAAAPb//28CAAAAAAAAAOgAAAAAAAAA6AAAAAAAAAAcAAAAAAAAAAIAAAAAAAAACAAAAAAAAAAAAAAAAAAAABUAAAALAAAAAgAAAAAAAAAIAQAAAAAAAAgBAAAAAAAAGAAAAAAAAAADAAAAAQAAAAgAAAAAAAAAGAAAAAAAAAAdAAAAAwAAAAIAAAAAAAAAIAEAAAAAAAAgAQAAAAAAABMAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAJQAAAAEAAAACAAAAAAAAADgBAAAAAAAAOAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAACAAAAAAAAAAAAAAAAAAAAC8AAAAGAAAAAwAAAAAAAAA4EQAAAAAAADgBAAAAAAAAwAAAAAAAAAADAAAAAAAAAAgAAAAAAAAAEAAAAAAAAAABAAAAAwAAAAAAAAAAAAAAAAAAAAAAAAD4AQAAAAAAADgAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAA'

# begin NAME VERSION SOURCE → $B, the package's build tree; finish POOL writes the .deb.
begin() {
  NAME=$1 VERSION=$2 SOURCE=$3; B=$(mktemp -d); mkdir -p "$B/DEBIAN"; EXTRA=""
}
field() { EXTRA="$EXTRA$1: $2
"; }
finish() {
  printf 'Package: %s\nVersion: %s\nSource: %s\nArchitecture: amd64\nMaintainer: GpuLxc tests <dev@gpulxc.invalid>\nSection: non-free/libs\nPriority: optional\n%sDescription: stand-in for %s (no NVIDIA code)\n' \
    "$NAME" "$VERSION" "$SOURCE" "$EXTRA" "$NAME" > "$B/DEBIAN/control"
  mkdir -p "$1"; dpkg-deb -Zgzip --root-owner-group -b "$B" "$1/${NAME}_${VERSION}_amd64.deb" >/dev/null; rm -rf "$B"
}
# lib DIR NAME UPSTREAM: a placeholder library with its .so.1 link, as the real package ships it.
lib() {
  mkdir -p "$B$1"; echo "stand-in $2 $3" > "$B$1/$2.so.$3"; ln -s "$2.so.$3" "$B$1/$2.so.1"
}
upstream() { v=${1#*:}; echo "${v%-*}"; }

# debian POOL V: every binary of Debian's nvidia-graphics-drivers at V (see the case README's table).
debian() {
  local pool=$1 v=$2 u; u=$(upstream "$2"); local cur=$ARCHLIB/nvidia/current
  begin libcuda1 "$v" nvidia-graphics-drivers
  field Depends "nvidia-support, nvidia-alternative (= $v), libnvidia-ptxjitcompiler1 (= $v), libnvidia-pkcs11-openssl3 (= $v)"
  field Pre-Depends "nvidia-legacy-check (>= 495)"; field Recommends nvidia-smi
  lib $cur libcuda "$u"; ln -s libcuda.so.1 "$B$cur/libcuda.so"; finish "$pool"
  begin libnvidia-ml1 "$v" nvidia-graphics-drivers; field Depends "nvidia-alternative (= $v)"
  mkdir -p "$B$cur"; echo "$NVML_ELF" | base64 -d > "$B$cur/libnvidia-ml.so.$u"; ln -s "libnvidia-ml.so.$u" "$B$cur/libnvidia-ml.so.1"
  ln -s libnvidia-ml.so.1 "$B$cur/libnvidia-ml.so"; printf 'activate-noawait ldconfig\n' > "$B/DEBIAN/triggers"; finish "$pool"
  begin nvidia-smi "$v" nvidia-graphics-drivers; field Depends "nvidia-alternative (= $v), libnvidia-ml1 (= $v)"
  mkdir -p "$B/usr/lib/nvidia/current"; printf '#!/bin/sh\necho %s\n' "$u" > "$B/usr/lib/nvidia/current/nvidia-smi"
  chmod 755 "$B/usr/lib/nvidia/current/nvidia-smi"; finish "$pool"
  begin libnvcuvid1 "$v" nvidia-graphics-drivers; field Depends "libcuda1 (= $v)"; lib $cur libnvcuvid "$u"; finish "$pool"
  begin libnvidia-encode1 "$v" nvidia-graphics-drivers; field Depends "libnvcuvid1 (>= 260)"; lib $cur libnvidia-encode "$u"; finish "$pool"
  begin libnvidia-ptxjitcompiler1 "$v" nvidia-graphics-drivers; field Depends libc6; lib $cur libnvidia-ptxjitcompiler "$u"; finish "$pool"
  begin libnvidia-pkcs11-openssl3 "$v" nvidia-graphics-drivers; field Depends "nvidia-alternative (= $v), libssl3"
  lib $cur libnvidia-pkcs11-openssl3 "$u"; finish "$pool"
  begin nvidia-legacy-check "$v" nvidia-graphics-drivers; finish "$pool"
  begin nvidia-alternative "$v" nvidia-graphics-drivers; field Depends glx-alternative-nvidia; field Pre-Depends "nvidia-legacy-check (>= 495)"
  cat > "$B/DEBIAN/postinst" <<POSTINST
#!/bin/sh
set -e
[ "\$1" = configure ] || exit 0
update-alternatives --install /usr/lib/nvidia/nvidia nvidia /usr/lib/nvidia/current ${u%%.*} \\
  --slave /usr/bin/nvidia-smi nvidia--nvidia-smi /usr/lib/nvidia/current/nvidia-smi \\
  --slave $ARCHLIB/libnvidia-ml.so.1 nvidia--libnvidia-ml.so.1-x86_64-linux-gnu $cur/libnvidia-ml.so.1 \\
  --slave $ARCHLIB/libcuda.so.1 nvidia--libcuda.so.1-x86_64-linux-gnu $cur/libcuda.so.1 \\
  --slave $ARCHLIB/libnvcuvid.so.1 nvidia--libnvcuvid.so.1-x86_64-linux-gnu $cur/libnvcuvid.so.1 \\
  --slave $ARCHLIB/libnvidia-encode.so.1 nvidia--libnvidia-encode.so.1-x86_64-linux-gnu $cur/libnvidia-encode.so.1
# Without its own ELF, ldconfig's cache would not name libnvidia-ml.so.1; the real trigger does this.
ldconfig
POSTINST
  printf '#!/bin/sh\nset -e\n[ "$1" = remove ] && update-alternatives --remove nvidia /usr/lib/nvidia/current\nexit 0\n' > "$B/DEBIAN/prerm"
  chmod 755 "$B/DEBIAN/postinst" "$B/DEBIAN/prerm"; finish "$pool"
}

# debian_broken POOL V: Debian's binaries at V whose nvidia-alternative fails to configure: dpkg leaves the driver
# unpacked (libnvidia-ml1 iU, nvidia-alternative iF) with V's files in …/nvidia/current/.
debian_broken() {
  debian "$1" "$2"
  local d; d=$(mktemp -d); dpkg-deb -R "$1/nvidia-alternative_$2_amd64.deb" "$d"
  printf '#!/bin/sh\necho "stand-in nvidia-alternative: configure fails" >&2\nexit 1\n' > "$d/DEBIAN/postinst"
  dpkg-deb -Zgzip --root-owner-group -b "$d" "$1/nvidia-alternative_$2_amd64.deb" >/dev/null; rm -rf "$d"
}

# debian_helpers POOL: the version-independent helpers from other source packages.
debian_helpers() {
  begin nvidia-support 20151021+13 nvidia-support; field Depends nvidia-installer-cleanup; finish "$1"
  begin nvidia-installer-cleanup 20151021+13 nvidia-support; finish "$1"
  begin glx-alternative-nvidia 1.2.2 glx-alternatives; finish "$1"
}

# ubuntu POOL BRANCH V [server]: Ubuntu's branch-suffixed packages of one branch (or its -server twin).
ubuntu() {
  local pool=$1 br=$2 v=$3 sfx=${4:+-server} u; u=$(upstream "$3")
  local src=nvidia-graphics-drivers-$br$sfx
  begin libnvidia-compute-$br$sfx "$v" "$src"
  field Provides libnvidia-compute; field Conflicts libnvidia-compute; field Replaces libnvidia-compute
  mkdir -p "$B$ARCHLIB"; echo "$NVML_ELF" | base64 -d > "$B$ARCHLIB/libnvidia-ml.so.$u"; ln -s "libnvidia-ml.so.$u" "$B$ARCHLIB/libnvidia-ml.so.1"
  lib $ARCHLIB libcuda "$u"; printf 'activate-noawait ldconfig\n' > "$B/DEBIAN/triggers"; finish "$pool"
  begin libnvidia-decode-$br$sfx "$v" "$src"; field Depends "libnvidia-compute-$br$sfx (= $v)"
  field Provides libnvidia-decode; field Conflicts libnvidia-decode; field Replaces libnvidia-decode; lib $ARCHLIB libnvcuvid "$u"; finish "$pool"
  begin libnvidia-encode-$br$sfx "$v" "$src"; field Depends "libnvidia-decode-$br$sfx (= $v)"
  field Provides libnvidia-encode; field Conflicts libnvidia-encode; field Replaces libnvidia-encode; lib $ARCHLIB libnvidia-encode "$u"; finish "$pool"
  begin nvidia-utils-$br$sfx "$v" "$src"; field Depends "libnvidia-compute-$br$sfx (= $v)"
  field Provides nvidia-utils; field Conflicts nvidia-utils; field Replaces nvidia-utils
  mkdir -p "$B/usr/bin"; printf '#!/bin/sh\necho %s\n' "$u" > "$B/usr/bin/nvidia-smi"; chmod 755 "$B/usr/bin/nvidia-smi"; finish "$pool"
}

# ubuntu_transitional POOL OLD NEW V: OLD's names, built from NEW's source at V, empty and depending on NEW's packages.
ubuntu_transitional() {
  local pool=$1 old=$2 new=$3 v=$4 p
  for p in libnvidia-compute libnvidia-decode libnvidia-encode nvidia-utils; do
    begin "$p-$old" "$v" "nvidia-graphics-drivers-$new"; field Depends "$p-$new (= $v)"; finish "$pool"
  done
}

# flat DIR: the Packages file of the .debs in DIR, a flat repository (`deb URL ./`).
flat() { (cd "$1" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null > Packages); }

# suite REPO SUITE: the index of REPO/pool/SUITE as REPO/dists/SUITE/main/binary-amd64/Packages (`deb URL SUITE main`).
suite() {
  mkdir -p "$1/dists/$2/main/binary-amd64"
  (cd "$1" && dpkg-scanpackages --multiversion "pool/$2" /dev/null 2>/dev/null > "dists/$2/main/binary-amd64/Packages")
  # Backports as Debian publishes them: NotAutomatic, so apt's candidate comes from the suite or its security updates.
  { printf 'Origin: Debian\nLabel: Debian\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: amd64\nComponents: main\n' "$2" "$2" "$(LC_ALL=C date -u -R)"
    case "$2" in *-backports) printf 'NotAutomatic: yes\nButAutomaticUpgrades: yes\n' ;; esac
    printf 'SHA256:\n'; (cd "$1/dists/$2" && printf ' %s %s main/binary-amd64/Packages\n' "$(sha256sum < main/binary-amd64/Packages | cut -d' ' -f1)" "$(wc -c < main/binary-amd64/Packages)")
  } > "$1/dists/$2/Release"
}

"$@"
