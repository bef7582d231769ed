#!/usr/bin/env bash
# Which qemu accelerator really boots a guest here: prints `kvm` or `qemu` (TCG), or fails with the
# reason on stderr. /dev/kvm existing proves nothing (in some sandboxes a KVM guest hangs without a
# word), so this boots the tiny guest of scripts/guest/build.sh and waits for its STRATUS-GUEST-OK
# line on the serial port: with KVM for STRATUS_KVM_PROBE_SEC (default 15) seconds, then with TCG
# for STRATUS_TCG_PROBE_SEC (default 60). The answer is cached in DIR/accel until the machine
# reboots or qemu changes (DIR defaults to .stratus; DIR/guest holds the tiny guest).
#
# Usage: accel.sh [DIR]   (STRATUS_ACCEL=kvm|qemu skips the probe and answers that)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:-.stratus}"
log() { printf 'accel: %s\n' "$*" >&2; }

case "${STRATUS_ACCEL:-}" in
  kvm|qemu) echo "$STRATUS_ACCEL"; exit 0 ;;
  '') ;;
  *) log "STRATUS_ACCEL must be kvm or qemu, got '$STRATUS_ACCEL'"; exit 2 ;;
esac
command -v qemu-system-x86_64 >/dev/null || { log "qemu-system-x86_64 is not installed"; exit 1; }
mkdir -p "$DIR"
boot_id="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)"
key="$boot_id $(qemu-system-x86_64 --version | head -n1)"
cache="$DIR/accel"
if [[ -s "$cache" && "$(sed -n 1p "$cache")" == "$key" ]]; then
  note="$(sed -n 3p "$cache")"
  [[ -z "$note" ]] || log "$note (probed $(date -r "$cache" -u +%FT%TZ); kept until the next reboot)"
  sed -n 2p "$cache"
  exit 0
fi

guest="$(bash "$HERE/build.sh" "$DIR/guest" 2>/dev/null)" || { log "could not build the tiny guest (scripts/guest/build.sh)"; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# probe ACCEL SECONDS: 0 when the guest printed its line in time; the reason in $tmp/why otherwise.
probe() {
  local accel="$1" secs="$2" serial="$tmp/serial-$1.log" pid
  : >"$serial"
  qemu-system-x86_64 -accel "$accel" -machine pc -m 256 -smp 1 -nodefaults -display none -no-reboot \
    -serial "file:$serial" -kernel "$guest/vmlinuz" -initrd "$guest/initrd.img" -append 'console=ttyS0 panic=-1' \
    >"$tmp/qemu-$accel.err" 2>&1 &
  pid=$!
  for _ in $(seq 1 $((secs * 10))); do
    if grep -q STRATUS-GUEST-OK "$serial"; then
      kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "qemu -accel $accel exited: $(tail -n1 "$tmp/qemu-$accel.err")" >"$tmp/why"
      return 1
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  echo "a guest under -accel $accel printed nothing in ${secs} s" >"$tmp/why"
  return 1
}

answer='' note=''
if [[ -r /dev/kvm && -w /dev/kvm ]]; then
  if probe kvm "${STRATUS_KVM_PROBE_SEC:-15}"; then answer=kvm; else note="KVM does not work here: $(cat "$tmp/why")"; fi
else
  note="no usable /dev/kvm"
fi
if [[ -z "$answer" ]]; then
  log "$note; trying TCG"
  if probe tcg "${STRATUS_TCG_PROBE_SEC:-60}"; then answer=qemu; else log "$(cat "$tmp/why")"; exit 1; fi
  log "$note"
fi
printf '%s\n%s\n%s\n' "$key" "$answer" "$note" >"$cache"
echo "$answer"
