# The local cloud's Cassandra settings, sourced by scripts/up.sh and scripts/down.sh (needs $REPO).
# Its own node (address, data folder), apart from the test suite's, and authentication on.
#
# - STRATUS_CASSANDRA_AUTH (default 1): Cassandra with passwords and permissions; every component
#   logs in with its own role (scripts/cassandra-roles.js). 0 is the development switch for the old
#   behaviour, AllowAllAuthenticator: any local process can then read tokens and rewrite objects.
# - STRATUS_CASSANDRA_ADDR (default 127.0.0.10) and STRATUS_CASSANDRA_DATA (default
#   $STATE/cassandra-data): the test suite's node is 127.0.0.1:9042 on .cassandra/data, without
#   authentication (test/global-setup.js), and the auth test's is 127.0.0.2; `npm run up` and
#   `npm test` run side by side and `npm run down` never stops the test node.
# - STRATUS_CASSANDRA (default ADDR:PORT, in a cluster every node's): the contact points the
#   components are given.
# - STRATUS_CLUSTER (default 0; `npm run up -- --cluster` sets 1): a local cluster on this machine:
#   STRATUS_CASSANDRA_NODES (default 3) Cassandra nodes on ADDR, ADDR+1, ADDR+2 (127.0.0.10-12;
#   STRATUS_CASSANDRA_ADDR=127.0.0.1 gives 127.0.0.1-3 when the test node is elsewhere), keyspace
#   replication STRATUS_REPLICATION (default 3), STRATUS_FRONTENDS frontends (default 2) on
#   STRATUS_API_PORT, +1, ... (default 6443), STRATUS_CONTROLLERS replicas (default 2) and
#   STRATUS_AGENTS agent processes of 3 hollow hosts each (default 2). Single mode: one of each.
# - STRATUS_CONTROLLERS_METRICS_PORT (default 9464) and STRATUS_AGENT_METRICS_PORT (default 9474):
#   first metrics port of the controller replicas and of the agents (+1 per process).

STATE="${STRATUS_STATE_DIR:-$REPO/.stratus}"
export STRATUS_CASSANDRA_AUTH="${STRATUS_CASSANDRA_AUTH:-1}"
if [[ "$STRATUS_CASSANDRA_AUTH" != 0 && "$STRATUS_CASSANDRA_AUTH" != 1 ]]; then
  echo "STRATUS_CASSANDRA_AUTH must be 1 (passwords and per-component roles, the default) or 0 (none: development only), got '$STRATUS_CASSANDRA_AUTH'" >&2
  exit 2
fi
export STRATUS_CASSANDRA_ADDR="${STRATUS_CASSANDRA_ADDR:-127.0.0.10}"
export STRATUS_CASSANDRA_DATA="${STRATUS_CASSANDRA_DATA:-$STATE/cassandra-data}"

# up_count VAR DEFAULT: a count from the environment, 1..9, or a message naming the variable.
up_count() {
  local v="${!1:-$2}"
  if [[ ! "$v" =~ ^[1-9]$ ]]; then echo "$1 must be a number from 1 to 9, got '$v'" >&2; exit 2; fi
  echo "$v"
}
export STRATUS_CLUSTER="${STRATUS_CLUSTER:-0}"
if [[ "$STRATUS_CLUSTER" != 0 && "$STRATUS_CLUSTER" != 1 ]]; then
  echo "STRATUS_CLUSTER must be 1 (a local cluster: 3 Cassandra nodes, 2 frontends, 2 controllers) or 0 (one of each, the default), got '$STRATUS_CLUSTER'" >&2
  exit 2
fi
if [[ "$STRATUS_CLUSTER" == 1 ]]; then
  STRATUS_CASSANDRA_NODES="$(up_count STRATUS_CASSANDRA_NODES 3)" || exit 2
  export STRATUS_CASSANDRA_NODES
  export STRATUS_REPLICATION="${STRATUS_REPLICATION:-$(( STRATUS_CASSANDRA_NODES < 3 ? STRATUS_CASSANDRA_NODES : 3 ))}"
  FRONTENDS="$(up_count STRATUS_FRONTENDS 2)" || exit 2
  CONTROLLERS="$(up_count STRATUS_CONTROLLERS 2)" || exit 2
  AGENTS="$(up_count STRATUS_AGENTS 2)" || exit 2
else
  if [[ "${STRATUS_CASSANDRA_NODES:-1}" != 1 ]]; then
    echo "STRATUS_CASSANDRA_NODES=$STRATUS_CASSANDRA_NODES needs cluster mode: npm run up -- --cluster (or STRATUS_CLUSTER=1)" >&2
    exit 2
  fi
  export STRATUS_CASSANDRA_NODES=1
  FRONTENDS="$(up_count STRATUS_FRONTENDS 1)" || exit 2
  CONTROLLERS="$(up_count STRATUS_CONTROLLERS 1)" || exit 2
  AGENTS="$(up_count STRATUS_AGENTS 1)" || exit 2
fi
# Every node's address is a contact point: a component starts while any of them answers.
if [[ -z "${STRATUS_CASSANDRA:-}" ]]; then
  if [[ ! "$STRATUS_CASSANDRA_ADDR" =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.([0-9]+)$ ]]; then
    echo "STRATUS_CASSANDRA_ADDR must be an IPv4 address, got '$STRATUS_CASSANDRA_ADDR'" >&2
    exit 2
  fi
  STRATUS_CASSANDRA="$(for i in $(seq 0 $((STRATUS_CASSANDRA_NODES - 1))); do
    printf '%s.%s:%s\n' "${BASH_REMATCH[1]}" "$((BASH_REMATCH[2] + i))" "${STRATUS_CASSANDRA_PORT:-9042}"; done | paste -sd,)"
fi
export STRATUS_CASSANDRA
# Exported: scripts/cassandra.sh logs in with the operator role to check that the nodes see each other.
export STRATUS_CASSANDRA_CREDENTIALS="${STRATUS_CASSANDRA_CREDENTIALS:-$STATE/cassandra}"
CREDS="$STRATUS_CASSANDRA_CREDENTIALS"
API_PORT="${STRATUS_API_PORT:-6443}"
CONTROLLERS_METRICS_PORT="${STRATUS_CONTROLLERS_METRICS_PORT:-9464}"
AGENT_METRICS_PORT="${STRATUS_AGENT_METRICS_PORT:-9474}"
for v in API_PORT CONTROLLERS_METRICS_PORT AGENT_METRICS_PORT; do
  if [[ ! "${!v}" =~ ^[0-9]+$ ]] || (( ${!v} < 1 || ${!v} > 65000 )); then
    echo "STRATUS_$v must be a port number (1-65000), got '${!v}'" >&2
    exit 2
  fi
done
