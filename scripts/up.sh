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
# Cluster mode (`npm run up -- --cluster`, or STRATUS_CLUSTER=1 npm run up): three Cassandra
# nodes (127.0.0.10-12, replication factor 3), two frontends (6443, 6444), two controller replicas
# and two agents of hollow hosts, all on this machine; the CLI config lists every frontend and the
# kubeconfig has a context per frontend. `--frontends N` sets the number of frontends. The real
# qemu host is single-mode only. Counts, ports and addresses: scripts/up-env.sh.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
usage() { echo "usage: npm run up [-- --cluster] [--frontends N]   (or STRATUS_CLUSTER=1 npm run up)" >&2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cluster) export STRATUS_CLUSTER=1 ;;
    --frontends) [[ $# -ge 2 ]] || { echo "--frontends needs a number" >&2; usage; exit 2; }; export STRATUS_FRONTENDS="$2"; shift ;;
    --frontends=*) export STRATUS_FRONTENDS="${1#*=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; usage; exit 2 ;;
  esac
  shift
done
. scripts/up-env.sh
MODE="$([[ "$STRATUS_CLUSTER" == 1 ]] && echo cluster || echo single)"
mkdir -p "$STATE/run" "$STATE/logs" "$STATE/pki"
step() { printf '\n==> %s\n' "$*" >&2; }

# The name of process $2 of kind $1 out of $3: the kind alone when it is the only one in single mode.
proc_name() { if [[ "$MODE" == single && "$3" == 1 ]]; then echo "$1"; else echo "$1-$2"; fi; }
pid_alive() { [[ -f "$STATE/run/$1.pid" ]] && kill -0 "$(cat "$STATE/run/$1.pid")" 2>/dev/null; }
port_taken() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# A state folder runs one mode at a time: the other mode's processes and nodes would collide.
if [[ -f "$STATE/run/mode" && "$(cat "$STATE/run/mode")" != "$MODE" ]]; then
  live=""
  for f in "$STATE"/run/*.pid; do [[ -f "$f" ]] && pid_alive "$(basename "$f" .pid)" && live+=" $(basename "$f" .pid)"; done
  if [[ -n "$live" ]] || bash scripts/cassandra.sh status >/dev/null 2>&1; then
    echo "the local cloud in $STATE runs in $(cat "$STATE/run/mode") mode (${live# }); stop it first with npm run down, then npm run up$([[ "$MODE" == cluster ]] && echo ' -- --cluster')" >&2
    exit 1
  fi
fi
echo "$MODE" >"$STATE/run/mode"

step "installing what is missing (Debian packages, npm packages)"
bash scripts/ensure-deps.sh all
if [[ "${STRATUS_UP_BUILD:-1}" == 0 ]]; then
  echo "STRATUS_UP_BUILD=0: not building (dist/ as it is)" >&2
else
  step "building"
  npm run --silent build
fi
step "starting Cassandra ($STRATUS_CASSANDRA_NODES node(s): $STRATUS_CASSANDRA; data in $STRATUS_CASSANDRA_DATA)"
bash scripts/cassandra.sh start
# A node that was already running may have been started in the other mode (or be another node).
PROBE="$(node scripts/cassandra-ready.js --host "$STRATUS_CASSANDRA_ADDR" --port "${STRATUS_CASSANDRA_PORT:-9042}" --quiet || true)"
[[ -n "$PROBE" ]] || { echo "the Cassandra node at $STRATUS_CASSANDRA_ADDR does not answer; see bash scripts/cassandra.sh logs" >&2; exit 1; }
if [[ "$STRATUS_CASSANDRA_AUTH" == 1 && "$PROBE" != "authentication required" ]]; then
  echo "the Cassandra node at $STRATUS_CASSANDRA_ADDR lets anyone in without a password (started with STRATUS_CASSANDRA_AUTH=0, or not by npm run up)." >&2
  echo "Stop it (npm run down) and run npm run up again, or keep it with STRATUS_CASSANDRA_AUTH=0 npm run up (development only)." >&2
  exit 1
fi
if [[ "$STRATUS_CASSANDRA_AUTH" == 0 && "$PROBE" == "authentication required" ]]; then
  echo "the Cassandra node at $STRATUS_CASSANDRA_ADDR requires passwords (started by npm run up with authentication): npm run down first, or run without STRATUS_CASSANDRA_AUTH=0." >&2
  exit 1
fi
# Loads a component's Cassandra credentials into the environment (when authentication is on).
load_role() {
  if [[ "$STRATUS_CASSANDRA_AUTH" == 1 ]]; then set -a; . "$CREDS/$1.env"; set +a; fi
}
if [[ "$STRATUS_CASSANDRA_AUTH" == 1 ]]; then
  step "the operator's Cassandra role (credentials in $CREDS)"
  node scripts/cassandra-roles.js --admin
else
  echo "warning: STRATUS_CASSANDRA_AUTH=0: Cassandra accepts anyone without a password; any local process can read tokens and rewrite objects (development only)" >&2
fi

# The schema, once, before any component starts (they wait for it rather than race to create it).
step "schema migrations (keyspace ${STRATUS_KEYSPACE:-stratus}, replication factor ${STRATUS_REPLICATION:-1})"
if [[ -f dist/api/migrate-main.js ]]; then
  ( load_role stratus_admin; node dist/api/migrate-main.js )
elif [[ "$STRATUS_CASSANDRA_AUTH" == 1 ]]; then
  echo "note: no dist/api/migrate-main.js in this build: scripts/cassandra-roles.js applies the migrations next" >&2
else
  echo "note: no dist/api/migrate-main.js in this build: skipped; the components apply the migrations themselves" >&2
fi
if [[ "$STRATUS_CASSANDRA_AUTH" == 1 ]]; then
  step "Cassandra roles of the components"
  node scripts/cassandra-roles.js
fi

step "local certificate authority and server certificate"
bash scripts/pki.sh "$STATE/pki"

# Starts a component in the background unless its pid file names a live process; stops `up` with a
# clear message when the port it would listen on ($2, "-" for none) is taken by another process.
start_component() {
  local name="$1" port="$2"; shift 2
  local pidfile="$STATE/run/$name.pid"
  if pid_alive "$name"; then
    echo "$name already running (pid $(cat "$pidfile"))" >&2
    return 0
  fi
  if [[ "$port" != - ]] && port_taken 127.0.0.1 "$port"; then
    echo "cannot start $name: port $port on 127.0.0.1 is taken by another process (not one of $STATE/run/): stop it, or choose other ports (scripts/up-env.sh: STRATUS_API_PORT, STRATUS_CONTROLLERS_METRICS_PORT, STRATUS_AGENT_METRICS_PORT)" >&2
    return 1
  fi
  setsid nohup "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  echo "$name started (pid $!, log $STATE/logs/$name.log)" >&2
}

SERVERS=() API_NAMES=()
for i in $(seq 1 "$FRONTENDS"); do
  port=$((API_PORT + i - 1))
  SERVERS+=("https://127.0.0.1:$port")
  name="$(proc_name api "$i" "$FRONTENDS")"
  API_NAMES+=("$name")
  step "starting the API frontend $name on https://127.0.0.1:$port"
  ( load_role stratus_frontend
    STRATUS_LISTEN="127.0.0.1:$port" STRATUS_TLS_CERT="$STATE/pki/server.pem" STRATUS_TLS_KEY="$STATE/pki/server-key.pem" \
      start_component "$name" "$port" node dist/api/main.js )
done
SERVER="${SERVERS[0]}"
# scripts/components.txt: one line per kind of component (the format is described there).
while read -r kind count role port_expr rest; do
  [[ -z "$kind" || "$kind" == \#* ]] && continue
  n="${!count}"
  for i in $(seq 1 "$n"); do
    name="$(proc_name "$kind" "$i" "$n")"
    SUFFIX="${name#"$kind"}"
    step "starting $name"
    eval "port=$port_expr; set -- $rest"
    ( load_role "$role"
      while [[ "$1" =~ ^[A-Z_][A-Z0-9_]*= ]]; do export "$1"; shift; done
      STRATUS_STATE_DIR="$STATE" start_component "$name" "$port" node "$@" )
  done
done < scripts/components.txt

for i in "${!SERVERS[@]}"; do
  server="${SERVERS[$i]}" log="$STATE/logs/${API_NAMES[$i]}.log"
  printf 'waiting for %s/readyz ' "$server" >&2
  for i in $(seq 1 120); do
    if curl -sf --cacert "$STATE/pki/ca.pem" "$server/readyz" >/dev/null 2>&1; then break; fi
    if [[ $i == 120 ]]; then echo; echo "the frontend $server did not become ready; see $log" >&2; tail -20 "$log" >&2; exit 1; fi
    printf '.' >&2; sleep 1
  done
  echo ' ready' >&2
done

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
# The CLI fails over across every frontend (cli/client.ts); kubectl takes one server per context:
# one context per frontend, "stratus" alone with one frontend, stratus-1, stratus-2, ... otherwise.
cat >"$CONFIG" <<YAML
# written by npm run up
servers: [$(IFS=,; echo "${SERVERS[*]}" | sed 's/,/, /g')]
ca: $STATE/pki/ca.pem
namespace: demo
token: $TOKEN
YAML
kube_name() { if [[ "$FRONTENDS" == 1 ]]; then echo stratus; else echo "stratus-$1"; fi; }
{
  printf 'apiVersion: v1\nkind: Config\nclusters:\n'
  for i in "${!SERVERS[@]}"; do
    printf -- '- name: %s\n  cluster: {server: %s, certificate-authority: %s}\n' "$(kube_name $((i + 1)))" "${SERVERS[$i]}" "$STATE/pki/ca.pem"
  done
  printf 'users:\n- name: stratus-admin\n  user: {token: %s}\ncontexts:\n' "$TOKEN"
  for i in "${!SERVERS[@]}"; do
    printf -- '- name: %s\n  context: {cluster: %s, user: stratus-admin, namespace: demo}\n' "$(kube_name $((i + 1)))" "$(kube_name $((i + 1)))"
  done
  printf 'current-context: %s\n' "$(kube_name 1)"
} >"$STATE/kubeconfig"

# The real host (where qemu can run) starts before the examples are applied: its taint keeps them off
# it. Single mode only: a cluster runs hollow hosts.
. scripts/up-qemu.sh
if [[ "$MODE" == single ]]; then qemu_host_up; else QEMU_WHY="the real qemu host is started in single mode only (npm run up without --cluster)"; fi

step "applying examples/"
node bin/stratus.js apply -f examples/
if [[ "$MODE" == single ]]; then qemu_vm_up || true; fi

cat >&2 <<MSG

Stratus is up ($MODE mode): API ${SERVERS[*]} (CA $STATE/pki/ca.pem), Cassandra $STRATUS_CASSANDRA, logs in $STATE/logs/.
Try:
  npx stratus get vm                       # the example VMs in project demo
  npx stratus get vm web-1 -o yaml
  npx stratus apply -f examples/           # again: everything unchanged
  npx stratus get vm -w                    # watch changes (Ctrl-C to stop)
  npx stratus delete vm web-1
  KUBECONFIG=$STATE/kubeconfig kubectl get vm      # one context per frontend: kubectl config get-contexts
  npx stratus whoami                       # admin, a cluster administrator
  npx stratus admin user create alice      # users, tokens: npx stratus admin --help
  npm run down                             # stop everything

$(qemu_summary)
MSG
[[ -z "$QEMU_FAILED" ]] || exit 1
