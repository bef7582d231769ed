#!/usr/bin/env bash
# `npm run up`: a working local cloud on this machine, from a fresh clone.
# Installs what is missing, builds, starts Cassandra, a frontend (HTTPS with a local CA), the
# controllers and an agent of hollow hosts, writes the CLI config and a kubeconfig, applies
# examples/ and prints what to try next. Where the machine can run qemu it also starts a real host
# and a Debian VM with your SSH key, and prints the command that opens a shell in it
# (scripts/up-qemu.sh). Running it twice is harmless.
# A local administrator ("admin", group stratus:admins) is created and its token written into both
# configs; the token is kept while it still works. Cassandra (its own node, see scripts/up-env.sh)
# runs with passwords and permissions and every component logs in with its own role;
# STRATUS_CASSANDRA_AUTH=0 turns that off (development only).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
. scripts/up-env.sh
PORT="${STRATUS_API_PORT:-6443}"
SERVER="https://127.0.0.1:$PORT"
mkdir -p "$STATE/run" "$STATE/logs" "$STATE/pki"
step() { printf '\n==> %s\n' "$*" >&2; }

step "installing what is missing (Debian packages, npm packages)"
bash scripts/ensure-deps.sh all
step "building"
npm run --silent build
step "starting Cassandra at $STRATUS_CASSANDRA (data in $STRATUS_CASSANDRA_DATA)"
bash scripts/cassandra.sh start
# A node that was already running may have been started in the other mode (or be another node).
PROBE="$(node scripts/cassandra-ready.js --host "$STRATUS_CASSANDRA_ADDR" --port "${STRATUS_CASSANDRA_PORT:-9042}" --quiet || true)"
[[ -n "$PROBE" ]] || { echo "the Cassandra node at $STRATUS_CASSANDRA does not answer; see bash scripts/cassandra.sh logs" >&2; exit 1; }
if [[ "$STRATUS_CASSANDRA_AUTH" == 1 && "$PROBE" != "authentication required" ]]; then
  echo "the Cassandra node at $STRATUS_CASSANDRA lets anyone in without a password (started with STRATUS_CASSANDRA_AUTH=0, or not by npm run up)." >&2
  echo "Stop it (npm run down) and run npm run up again, or keep it with STRATUS_CASSANDRA_AUTH=0 npm run up (development only)." >&2
  exit 1
fi
if [[ "$STRATUS_CASSANDRA_AUTH" == 0 && "$PROBE" == "authentication required" ]]; then
  echo "the Cassandra node at $STRATUS_CASSANDRA requires passwords (started by npm run up with authentication): npm run down first, or run without STRATUS_CASSANDRA_AUTH=0." >&2
  exit 1
fi
if [[ "$STRATUS_CASSANDRA_AUTH" == 1 ]]; then
  step "Cassandra roles of the components (credentials in $CREDS)"
  STRATUS_CASSANDRA_CREDENTIALS="$CREDS" node scripts/cassandra-roles.js
else
  echo "warning: STRATUS_CASSANDRA_AUTH=0: Cassandra accepts anyone without a password; any local process can read tokens and rewrite objects (development only)" >&2
fi
# Loads a component's Cassandra credentials into the environment (when authentication is on).
load_role() {
  if [[ "$STRATUS_CASSANDRA_AUTH" == 1 ]]; then set -a; . "$CREDS/$1.env"; set +a; fi
}

step "local certificate authority and server certificate"
bash scripts/pki.sh "$STATE/pki"

# Starts a component in the background unless its pid file names a live process.
start_component() {
  local name="$1"; shift
  local pidfile="$STATE/run/$name.pid"
  if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$pidfile"))" >&2
    return 0
  fi
  setsid nohup "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  echo "$name started (pid $!, log $STATE/logs/$name.log)" >&2
}

step "starting the API frontend on $SERVER"
( load_role stratus_frontend
  STRATUS_LISTEN="127.0.0.1:$PORT" STRATUS_TLS_CERT="$STATE/pki/server.pem" STRATUS_TLS_KEY="$STATE/pki/server-key.pem" \
    start_component api node dist/api/main.js )
# scripts/components.txt: one "name script [arguments...]" per line ($STATE is expanded).
while read -r name script args; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  step "starting $name"
  case "$name" in agent*) role=stratus_agents ;; *) role=stratus_controllers ;; esac
  eval "set -- ${args:-}"
  ( load_role "$role"; STRATUS_STATE_DIR="$STATE" start_component "$name" node "$script" "$@" )
done < scripts/components.txt

printf 'waiting for %s/readyz ' "$SERVER" >&2
for i in $(seq 1 120); do
  if curl -sf --cacert "$STATE/pki/ca.pem" "$SERVER/readyz" >/dev/null 2>&1; then break; fi
  if [[ $i == 120 ]]; then echo; echo "the frontend did not become ready; see $STATE/logs/api.log" >&2; tail -20 "$STATE/logs/api.log" >&2; exit 1; fi
  printf '.' >&2; sleep 1
done
echo ' ready' >&2

step "the local administrator's token"
CONFIG="${STRATUS_CONFIG:-$HOME/.stratus/config.yaml}"
TOKEN="$(sed -n 's/^token: *"\{0,1\}\([A-Za-z0-9_-]*\)"\{0,1\} *$/\1/p' "$CONFIG" 2>/dev/null | head -n1 || true)"
if [[ -n "$TOKEN" ]] && curl -sf --cacert "$STATE/pki/ca.pem" -H "Authorization: Bearer $TOKEN" "$SERVER/auth/v1/whoami" >/dev/null 2>&1; then
  echo "the token in $CONFIG still works; keeping it" >&2
else
  TOKEN="$(load_role stratus_frontend; node dist/api/auth/bootstrap.js --user admin --group stratus:admins --ttl 720h)"
fi

step "writing the CLI config ($CONFIG) and a kubeconfig ($STATE/kubeconfig)"
mkdir -p "$(dirname "$CONFIG")"
umask 077
cat >"$CONFIG" <<YAML
# written by npm run up
servers: [$SERVER]
ca: $STATE/pki/ca.pem
namespace: demo
token: $TOKEN
YAML
cat >"$STATE/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: stratus
  cluster: {server: $SERVER, certificate-authority: $STATE/pki/ca.pem}
users:
- name: stratus-admin
  user: {token: $TOKEN}
contexts:
- name: stratus
  context: {cluster: stratus, user: stratus-admin, namespace: demo}
current-context: stratus
YAML

# The real host (where qemu can run) starts before the examples are applied: its taint keeps them off it.
. scripts/up-qemu.sh
qemu_host_up

step "applying examples/"
node bin/stratus.js apply -f examples/
qemu_vm_up || true

cat >&2 <<MSG

Stratus is up: API $SERVER (CA $STATE/pki/ca.pem), logs in $STATE/logs/.
Try:
  npx stratus get vm                       # the example VMs in project demo
  npx stratus get vm web-1 -o yaml
  npx stratus apply -f examples/           # again: everything unchanged
  npx stratus get vm -w                    # watch changes (Ctrl-C to stop)
  npx stratus delete vm web-1
  KUBECONFIG=$STATE/kubeconfig kubectl get vm
  npx stratus whoami                       # admin, a cluster administrator
  npx stratus admin user create alice      # users, tokens: npx stratus admin --help
  npm run down                             # stop everything

$(qemu_summary)
MSG
[[ -z "$QEMU_FAILED" ]] || exit 1
