#!/usr/bin/env bash
# `npm run down`: stops the local cloud that `npm run up` started (components, then its Cassandra
# node: the one under STRATUS_CASSANDRA_DATA of scripts/up-env.sh, never the test suite's).
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
. "$REPO/scripts/up-env.sh"
for pidfile in "$STATE"/run/*.pid; do
  [[ -f "$pidfile" ]] || continue
  name="$(basename "$pidfile" .pid)"
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "stopped $name" >&2
  fi
  rm -f "$pidfile"
done
bash "$REPO/scripts/cassandra.sh" stop
