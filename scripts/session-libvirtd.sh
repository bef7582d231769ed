#!/usr/bin/env bash
# A session libvirtd for real guests, run as an unprivileged user (root's "session" is the system
# daemon, and qemu:///system needs the libvirt-qemu user of a full install), with its folders in DIR.
#
#   session-libvirtd.sh DIR         prepares DIR and runs libvirtd in the foreground (exec: the pid
#                                   is libvirtd's; SIGTERM stops it, running guests keep running)
#   session-libvirtd.sh --uri DIR   prints the URI a root process connects with
#
# DIR/run is its XDG_RUNTIME_DIR (the socket is DIR/run/libvirt/libvirt-sock), DIR/home its HOME
# (XDG_CONFIG_HOME is DIR/home/.config, through /run/stratus/HASH when that path is too long);
# both, and DIR/state (an agent's --state-dir: pools, console logs), are owned by the user, as is
# every file qemu opens (so images must be readable by it). STRATUS_LIBVIRTD_UID (default 65534,
# nobody) picks the user. Used by `npm run up` (scripts/up-qemu.sh) and test/helpers/libvirtd.ts.
set -euo pipefail
if [[ "${1:-}" == --uri ]]; then
  dir="$(cd "${2:?usage: session-libvirtd.sh --uri DIR}" 2>/dev/null && pwd || realpath -m "$2")"
  echo "qemu+unix:///session?socket=$dir/run/libvirt/libvirt-sock"
  exit 0
fi
DIR="${1:?usage: session-libvirtd.sh DIR}"
ID="${STRATUS_LIBVIRTD_UID:-65534}"
[[ $(id -u) -eq 0 ]] || { echo "session-libvirtd: needs root (it runs libvirtd as uid $ID with setpriv)" >&2; exit 1; }
for cmd in libvirtd setpriv; do
  command -v "$cmd" >/dev/null || { echo "session-libvirtd: $cmd is missing (scripts/apt-packages.txt)" >&2; exit 1; }
done
mkdir -p "$DIR"/run "$DIR"/home "$DIR"/state/console
DIR="$(cd "$DIR" && pwd)"
chown "$ID:$ID" "$DIR" "$DIR"/run "$DIR"/home "$DIR"/state "$DIR"/state/console
chmod 755 "$DIR" "$DIR"/state "$DIR"/state/console
chmod 700 "$DIR"/run "$DIR"/home
# libvirt puts the guests' sockets (the qemu guest agent channel: CONFIG/libvirt/qemu/channel/
# target/domain-ID-NAME20/org.qemu.guest_agent.0) under XDG_CONFIG_HOME, and a socket path has at
# most 107 bytes: a config folder of more than 22 characters is reached through a short symlink.
config="$DIR/home/.config"
mkdir -p "$config"
chown "$ID:$ID" "$config"
if (( ${#config} > 22 )); then
  links=/run/stratus
  [[ -d /run ]] || links=/tmp/.stratus
  mkdir -p "$links"
  chmod 755 "$links"
  find "$links" -maxdepth 1 -xtype l -delete 2>/dev/null || true  # links to folders since removed
  link="$links/$(printf '%s' "$DIR" | sha256sum | cut -c1-8)"
  ln -sfn "$config" "$link"
  config="$link"
fi
exec setpriv --reuid="$ID" --regid="$ID" --clear-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME="$DIR/home" XDG_RUNTIME_DIR="$DIR/run" XDG_CONFIG_HOME="$config" XDG_CACHE_HOME="$DIR/home/.cache" \
  XDG_DATA_HOME="$DIR/home/.local/share" libvirtd
