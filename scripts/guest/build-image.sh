#!/usr/bin/env bash
# Builds the Debian 12 cloud guest of the quick start and the end-to-end tests from Debian
# packages (nothing else can be downloaded here), and caches it per machine:
#   mmdebstrap (minbase + systemd and dbus (logind handles the ACPI power button), cloud-init,
#   openssh-server, qemu-guest-agent, ping and netcat for network checks, the cloud kernel)
#   -> mkfs.ext4 -d (a filesystem image made from the folder: no loop mount)
#   -> qemu-img convert -O qcow2 (compressed), plus the kernel and initrd for direct kernel boot.
# The guest has no bootloader: the Image names the kernel, initrd and command line
# (root=/dev/vda). cloud-init reads only the NoCloud seed the agent attaches (label cidata), so
# boot never waits on a metadata server that is not there; sshd host keys and the machine-id are
# made on first boot, per VM.
#
# Usage: build-image.sh [CACHE_DIR]   (default $STRATUS_IMAGE_CACHE, else /var/cache/stratus/images
# as root, ~/.cache/stratus/images otherwise). Prints the folder holding disk.qcow2, vmlinuz,
# initrd.img, disk.qcow2.sha256 and image.json (progress goes to stderr). A second run with the
# same recipe reuses it; concurrent runs wait for one build (a lock in the cache folder). Missing
# tools are installed by scripts/ensure-deps.sh. `npm run --silent image:build` runs this script;
# `node scripts/guest/image-manifest.js FOLDER` prints the Image manifest of a built folder.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ $(id -u) -eq 0 ]]; then default_cache=/var/cache/stratus/images; else default_cache="$HOME/.cache/stratus/images"; fi
CACHE="${1:-${STRATUS_IMAGE_CACHE:-$default_cache}}"
SUITE=bookworm
PACKAGES=systemd-sysv,udev,dbus,cloud-init,openssh-server,sudo,qemu-guest-agent,linux-image-cloud-amd64,ifupdown,isc-dhcp-client,netbase,iproute2,iputils-ping,netcat-openbsd,ca-certificates,less
SIZE=2G
log() { printf 'image: %s\n' "$*" >&2; }

# The recipe's hash names the cached build: change this script or customize.sh (other than their
# comment lines) or the package list, get a new image.
recipe="$(grep -hv '^[[:space:]]*#' "${BASH_SOURCE[0]}" "$HERE/customize.sh"; echo "$SUITE $PACKAGES $SIZE")"
hash="$(printf '%s' "$recipe" | sha256sum | cut -c1-12)"
OUT="$CACHE/debian-12-$hash"
reuse() {
  [[ -s "$OUT/image.json" ]] || return 1
  log "reusing $OUT (built $(date -r "$OUT/image.json" -u +%FT%TZ))"
  echo "$OUT"
  exit 0
}
reuse || true

[[ $(id -u) -eq 0 ]] || { log "mmdebstrap needs root here (it chroots to run the packages' scripts)"; exit 1; }
missing() { for cmd in mmdebstrap mkfs.ext4 qemu-img flock; do command -v "$cmd" >/dev/null || echo "$cmd"; done; }
if [[ -n "$(missing)" ]]; then
  log "missing $(missing | xargs): installing them with scripts/ensure-deps.sh (scripts/apt-packages.txt)"
  bash "$HERE/../ensure-deps.sh" system >&2 || true
  [[ -z "$(missing)" ]] || { log "still missing $(missing | xargs): install mmdebstrap, e2fsprogs and qemu-utils"; exit 1; }
fi

mkdir -p "$CACHE"
# One build at a time per cache: a second run waits, then reuses what the first built.
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  log "another build is running in $CACHE: waiting for it"
  flock 9
fi
reuse || true
work="$(mktemp -d "$CACHE/.build-XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
start=$(date +%s)
log "step 1/4: mmdebstrap $SUITE with cloud-init, openssh-server and the cloud kernel (about a minute)"
mmdebstrap --variant=minbase --include="$PACKAGES" \
  --customize-hook="$HERE/customize.sh \"\$1\"" \
  "$SUITE" "$root" >&2

log "step 2/4: kernel and initrd for direct kernel boot"
cp "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)" "$work/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)" "$work/initrd.img"

log "step 3/4: ext4 filesystem image from the folder ($SIZE, no loop mount)"
mkfs.ext4 -q -L root -d "$root" "$work/disk.raw" "$SIZE" >&2
rm -rf "$root"

log "step 4/4: qcow2 (compressed) and its checksum"
qemu-img convert -c -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
rm -f "$work/disk.raw"
sum="$(sha256sum "$work/disk.qcow2" | cut -d' ' -f1)"
echo "$sum" >"$work/disk.qcow2.sha256"
virtual="$(qemu-img info --output=json "$work/disk.qcow2" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)["virtual-size"]))')"
cat >"$work/image.json" <<JSON
{"name":"debian-12","suite":"$SUITE","recipe":"$hash","disk":"disk.qcow2","format":"qcow2","sha256":"$sum","virtualSize":$virtual,"kernel":"vmlinuz","initrd":"initrd.img","cmdline":"root=/dev/vda rw console=ttyS0 net.ifnames=0"}
JSON
chmod 644 "$work"/disk.qcow2 "$work"/vmlinuz "$work"/initrd.img "$work"/image.json "$work"/disk.qcow2.sha256
chmod 755 "$work"
rm -rf "$OUT"
mv "$work" "$OUT"
trap - EXIT
chmod 755 "$CACHE" "$(dirname "$CACHE")" 2>/dev/null || true
log "built $OUT in $(( $(date +%s) - start )) s (sha256 $sum)"
echo "$OUT"
