#!/usr/bin/env bash
# `npm run up`: a working local cloud on this machine, from a fresh clone.
# Installs what is missing, builds, starts Cassandra, a frontend (HTTPS with a local CA), the
# controllers and an agent (the parts that exist), writes the CLI config and a kubeconfig,
# applies examples/ and prints what to try next. Running it twice is harmless.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
STATE="${STRATUS_STATE_DIR:-$REPO/.stratus}"
PORT="${STRATUS_API_PORT:-6443}"
SERVER="https://127.0.0.1:$PORT"
mkdir -p "$STATE/run" "$STATE/logs" "$STATE/pki"
step() { printf '\n==> %s\n' "$*" >&2; }

step "installing what is missing (Debian packages, npm packages)"
bash scripts/ensure-deps.sh all
step "building"
npm run --silent build
step "starting Cassandra"
bash scripts/cassandra.sh start

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
STRATUS_LISTEN="127.0.0.1:$PORT" STRATUS_TLS_CERT="$STATE/pki/server.pem" STRATUS_TLS_KEY="$STATE/pki/server-key.pem" \
  start_component api node dist/api/main.js
for c in $(cat scripts/components.txt 2>/dev/null | sed 's/#.*//'); do
  step "starting $c"
  STRATUS_STATE_DIR="$STATE" start_component "$c" node "dist/$c.js"
done

printf 'waiting for %s/readyz ' "$SERVER" >&2
for i in $(seq 1 120); do
  if curl -sf --cacert "$STATE/pki/ca.pem" "$SERVER/readyz" >/dev/null 2>&1; then break; fi
  if [[ $i == 120 ]]; then echo; echo "the frontend did not become ready; see $STATE/logs/api.log" >&2; tail -20 "$STATE/logs/api.log" >&2; exit 1; fi
  printf '.' >&2; sleep 1
done
echo ' ready' >&2

step "writing the CLI config (~/.stratus/config.yaml) and a kubeconfig ($STATE/kubeconfig)"
CONFIG="${STRATUS_CONFIG:-$HOME/.stratus/config.yaml}"
mkdir -p "$(dirname "$CONFIG")"
cat >"$CONFIG" <<YAML
# written by npm run up
servers: [$SERVER]
ca: $STATE/pki/ca.pem
namespace: demo
YAML
cat >"$STATE/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: stratus
  cluster: {server: $SERVER, certificate-authority: $STATE/pki/ca.pem}
users:
- name: stratus-admin
  user: {token: local-dev-no-auth-yet}
contexts:
- name: stratus
  context: {cluster: stratus, user: stratus-admin, namespace: demo}
current-context: stratus
YAML

step "applying examples/"
node bin/stratus.js apply -f examples/

cat >&2 <<MSG

Stratus is up: API $SERVER (CA $STATE/pki/ca.pem), logs in $STATE/logs/.
Try:
  npx stratus get vm                       # the example VMs in project demo
  npx stratus get vm web-1 -o yaml
  npx stratus apply -f examples/           # again: everything unchanged
  npx stratus get vm -w                    # watch changes (Ctrl-C to stop)
  npx stratus delete vm web-1
  KUBECONFIG=$STATE/kubeconfig kubectl get vm
  npm run down                             # stop everything
MSG
