#!/usr/bin/env bash
# `npm run down`: stops the local cloud that `npm run up` started (components, the real host's
# guests and session libvirtd, then its Cassandra node: the one under STRATUS_CASSANDRA_DATA of
# scripts/up-env.sh, never the test suite's).
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
. "$REPO/scripts/up-env.sh"
stop_pidfile() {
  local pidfile="$1" name pid
  [[ -f "$pidfile" ]] || return 0
  name="$(basename "$pidfile" .pid)"
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "stopped $name" >&2
  fi
  rm -f "$pidfile"
}
for pidfile in "$STATE"/run/*.pid; do
  [[ "$pidfile" == */libvirtd.pid ]] || stop_pidfile "$pidfile"
done
# The real host's guests (scripts/up-qemu.sh), once its agent is stopped: shut down (20 s), then
# powered off, so that no qemu outlives the cloud; then their session libvirtd.
if [[ -f "$STATE/run/libvirtd.pid" ]] && kill -0 "$(cat "$STATE/run/libvirtd.pid")" 2>/dev/null && command -v virsh >/dev/null; then
  dir="$(tr '\0' '\n' <"/proc/$(cat "$STATE/run/libvirtd.pid")/environ" 2>/dev/null | sed -n 's|^XDG_RUNTIME_DIR=||p')"
  uri="qemu+unix:///session?socket=$dir/libvirt/libvirt-sock"
  running="$(virsh -c "$uri" list --name --state-running 2>/dev/null | sed '/^$/d')"
  if [[ -n "$running" ]]; then
    for d in $running; do virsh -c "$uri" shutdown "$d" >/dev/null 2>&1 || true; done
    for _ in $(seq 1 40); do [[ -z "$(virsh -c "$uri" list --name --state-running 2>/dev/null | sed '/^$/d')" ]] && break; sleep 0.5; done
    for d in $(virsh -c "$uri" list --name --state-running 2>/dev/null); do virsh -c "$uri" destroy "$d" >/dev/null 2>&1 || true; done
    echo "stopped the real host's guests: $(echo $running)" >&2
  fi
fi
stop_pidfile "$STATE/run/libvirtd.pid"
bash "$REPO/scripts/cassandra.sh" stop
