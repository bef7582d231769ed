#!/usr/bin/env bash
# Runs a command with a Cassandra node available:
#
#   bash scripts/with-cassandra.sh CMD [ARGS...]
#
# Starts Cassandra (scripts/cassandra.sh start) unless its CQL port already answers, runs CMD,
# and stops Cassandra afterwards only if this script started it. Exits with CMD's exit code.
# The STRATUS_CASSANDRA_* variables of scripts/cassandra.sh apply.
set -uo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CASSANDRA="$SCRIPTS/cassandra.sh"

if [[ $# -eq 0 ]]; then
  echo "usage: with-cassandra.sh CMD [ARGS...]" >&2
  exit 2
fi

started=0
cleanup() {
  if [[ $started == 1 ]]; then
    started=0
    bash "$CASSANDRA" stop >&2 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if bash "$CASSANDRA" status >/dev/null 2>&1; then
  echo "with-cassandra: using the Cassandra already running" >&2
else
  started=1
  if ! bash "$CASSANDRA" start >&2; then
    echo "with-cassandra: Cassandra did not start" >&2
    exit 1
  fi
fi

"$@"
rc=$?
exit $rc
