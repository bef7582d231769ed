#!/usr/bin/env bash
# A session libvirtd for real guests, run as an unprivileged user (root's "session" is the system
# daemon, and qemu:///system needs the libvirt-qemu user of a full install), with its folders in DIR.
#
#   session-libvirtd.sh DIR         prepares DIR and runs libvirtd in the foreground (exec: the pid
#                                   is libvirtd's; SIGTERM stops it, running guests keep running)
#   session-libvirtd.sh --uri DIR   prints the URI a root process connects with
#
# DIR/run is its XDG_RUNTIME_DIR (the socket is DIR/run/libvirt/libvirt-sock), DIR/home its HOME
# and DIR/home/.config its XDG_CONFIG_HOME (each through a short link when DIR is long: below);
# these, and DIR/state (an agent's --state-dir: pools, console logs), are owned by the user, as is
# every file qemu opens (so images must be readable by it). STRATUS_LIBVIRTD_UID (default 65534,
# nobody) picks the user. Used by `npm run up` (scripts/up-qemu.sh) and test/helpers/libvirtd.ts.
set -euo pipefail
# A unix socket path has at most 107 bytes. libvirt puts its own sockets under XDG_RUNTIME_DIR
# (libvirt/libvirt-admin-sock) and the guests' under XDG_CONFIG_HOME (the qemu guest agent channel:
# libvirt/qemu/channel/target/domain-ID-NAME20/org.qemu.guest_agent.0, 85 bytes of it), so a DIR
# too long for them is reached through short symlinks: LINKS/HASH (the config folder, when
# DIR/home/.config is over 22 bytes) and LINKS/HASH-run (the runtime folder, when DIR is over 60).
LINKS=/run/stratus
[[ -d /run ]] || LINKS=/tmp/.stratus
hash_of() { printf '%s' "$1" | sha256sum | cut -c1-8; }
runtime_dir() { if (( ${#1} > 60 )); then echo "$LINKS/$(hash_of "$1")-run"; else echo "$1/run"; fi; }
config_dir() { if (( ${#1} + 13 > 22 )); then echo "$LINKS/$(hash_of "$1")"; else echo "$1/home/.config"; fi; }

if [[ "${1:-}" == --uri ]]; then
  dir="$(cd "${2:?usage: session-libvirtd.sh --uri DIR}" 2>/dev/null && pwd -P || realpath -m "$2")"
  echo "qemu+unix:///session?socket=$(runtime_dir "$dir")/libvirt/libvirt-sock"
  exit 0
fi
DIR="${1:?usage: session-libvirtd.sh DIR}"
ID="${STRATUS_LIBVIRTD_UID:-65534}"
[[ $(id -u) -eq 0 ]] || { echo "session-libvirtd: needs root (it runs libvirtd as uid $ID with setpriv)" >&2; exit 1; }
for cmd in libvirtd setpriv; do
  command -v "$cmd" >/dev/null || { echo "session-libvirtd: $cmd is missing (scripts/apt-packages.txt)" >&2; exit 1; }
done
# qemu, run as the user, opens the taps the agent made for VMs on Networks (owned by the user)
# through /dev/net/tun: Debian's udev makes it 0666, a bare container may leave it 0600.
if [[ -c /dev/net/tun && $(stat -c %a /dev/net/tun) != 666 ]]; then chmod 0666 /dev/net/tun; fi
mkdir -p "$DIR"/run "$DIR"/home/.config "$DIR"/state/console
DIR="$(cd "$DIR" && pwd -P)"
chown "$ID:$ID" "$DIR" "$DIR"/run "$DIR"/home "$DIR"/home/.config "$DIR"/state "$DIR"/state/console
chmod 755 "$DIR" "$DIR"/state "$DIR"/state/console
chmod 700 "$DIR"/run "$DIR"/home
if ! setpriv --reuid="$ID" --regid="$ID" --clear-groups test -x "$DIR/home"; then
  echo "session-libvirtd: uid $ID cannot reach $DIR: every folder above it must be searchable by others (chmod o+x)" >&2
  exit 1
fi
run="$(runtime_dir "$DIR")"
config="$(config_dir "$DIR")"
if [[ "$run" != "$DIR/run" || "$config" != "$DIR/home/.config" ]]; then
  mkdir -p "$LINKS"
  chmod 755 "$LINKS"
  find "$LINKS" -maxdepth 1 -xtype l -delete 2>/dev/null || true  # links to folders since removed
  [[ "$run" == "$DIR/run" ]] || ln -sfn "$DIR/run" "$run"
  [[ "$config" == "$DIR/home/.config" ]] || ln -sfn "$DIR/home/.config" "$config"
fi
exec setpriv --reuid="$ID" --regid="$ID" --clear-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME="$DIR/home" XDG_RUNTIME_DIR="$run" XDG_CONFIG_HOME="$config" XDG_CACHE_HOME="$DIR/home/.cache" \
  XDG_DATA_HOME="$DIR/home/.local/share" libvirtd
