#!/usr/bin/env bash
# `npm run down`: stops the local cloud that `npm run up` started, single or cluster mode
# (components: every pid file of $STATE/run; the real host's guests and session libvirtd; then its
# Cassandra node or nodes: every one under STRATUS_CASSANDRA_DATA of scripts/up-env.sh, never the
# test suite's). The data stays; `npm run up` starts it again.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
# The mode `up` recorded decides, whatever the environment says now (--cluster is accepted too).
for arg in "$@"; do
  case "$arg" in --cluster) ;; *) echo "unknown argument '$arg' (usage: npm run down)" >&2; exit 2 ;; esac
done
if [[ "$(cat "${STRATUS_STATE_DIR:-$REPO/.stratus}/run/mode" 2>/dev/null)" == cluster || " $* " == *" --cluster "* ]]; then
  export STRATUS_CLUSTER=1
else
  export STRATUS_CLUSTER=0 STRATUS_CASSANDRA_NODES=1
fi
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
bash "$REPO/scripts/cassandra.sh" stop && rm -f "$STATE/run/mode"
