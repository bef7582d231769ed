#!/usr/bin/env bash
# Builds the tiny guest of the agent's real-VM test from Debian packages, into OUT (default
# .stratus/guest): `vmlinuz`, the Debian cloud kernel (fetched with `apt-get download`, unpacked
# with dpkg-deb), and `initrd.img`, an initramfs of busybox-static whose init prints
# "STRATUS-GUEST-OK" on the serial console and then runs an interactive shell there (prompt
# "guest# ", started again when it exits), never powering off (a powered-off guest would be
# restarted under runStrategy Always). Needs busybox-static and cpio (scripts/apt-packages.txt).
# Idempotent: an existing kernel is reused.
set -euo pipefail
OUT="${1:-.stratus/guest}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
log() { printf 'guest: %s\n' "$*" >&2; }

if [[ ! -s "$OUT/vmlinuz" ]]; then
  pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
  if [[ -z "$pkg" ]]; then
    log "no package lists; running apt-get update"
    apt-get update -qq >&2
    pkg="$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
  fi
  tmp="$(mktemp -d)"
  chmod 755 "$tmp" # apt-get download runs as _apt
  trap 'rm -rf "$tmp"' EXIT
  log "downloading $pkg"
  (cd "$tmp" && apt-get download -qq "$pkg" >&2) || { apt-get update -qq >&2; (cd "$tmp" && apt-get download -qq "$pkg" >&2); }
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  cp "$tmp"/x/boot/vmlinuz-* "$OUT/vmlinuz.tmp"
  mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
fi

if ldd /bin/busybox >/dev/null 2>&1; then
  log "/bin/busybox is dynamically linked: install busybox-static (it replaces busybox)"
  exit 1
fi
root="$(mktemp -d)"
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp /bin/busybox "$root/bin/busybox"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev 2>/dev/null
/bin/busybox --install -s /bin
export PATH=/bin PS1='guest# '
echo "STRATUS-GUEST-OK kernel=$(uname -r) cpus=$(nproc)"
# An interactive shell on the serial console (the console tests type into it), again when it exits.
while true; do setsid cttyhack sh; sleep 1; done
INIT
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$OUT/initrd.img.tmp"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
rm -rf "$root"
chmod 644 "$OUT/vmlinuz" "$OUT/initrd.img"
chmod 755 "$OUT"
log "built $OUT/vmlinuz and $OUT/initrd.img"
echo "$OUT"
