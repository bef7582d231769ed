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
# - STRATUS_CASSANDRA (default ADDR:PORT): the contact point the components are given.

STATE="${STRATUS_STATE_DIR:-$REPO/.stratus}"
export STRATUS_CASSANDRA_AUTH="${STRATUS_CASSANDRA_AUTH:-1}"
if [[ "$STRATUS_CASSANDRA_AUTH" != 0 && "$STRATUS_CASSANDRA_AUTH" != 1 ]]; then
  echo "STRATUS_CASSANDRA_AUTH must be 1 (passwords and per-component roles, the default) or 0 (none: development only), got '$STRATUS_CASSANDRA_AUTH'" >&2
  exit 2
fi
export STRATUS_CASSANDRA_ADDR="${STRATUS_CASSANDRA_ADDR:-127.0.0.10}"
export STRATUS_CASSANDRA_DATA="${STRATUS_CASSANDRA_DATA:-$STATE/cassandra-data}"
export STRATUS_CASSANDRA="${STRATUS_CASSANDRA:-$STRATUS_CASSANDRA_ADDR:${STRATUS_CASSANDRA_PORT:-9042}}"
CREDS="${STRATUS_CASSANDRA_CREDENTIALS:-$STATE/cassandra}"
