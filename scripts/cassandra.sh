#!/usr/bin/env bash
# A real Apache Cassandra 5.0 node (or a local 3-node cluster) for development, tests and CI,
# run straight from the jars on Maven Central: no Docker, no tarball.
#
#   bash scripts/cassandra.sh fetch        # install java+maven if missing, download the jars once per machine
#   bash scripts/cassandra.sh start        # fetch if needed, start, wait until a CQL query answers
#   bash scripts/cassandra.sh stop         # stop the node(s) this script started (idempotent)
#   bash scripts/cassandra.sh restart      # stop, then start
#   bash scripts/cassandra.sh status       # prints "running" (exit 0) or "stopped" (exit 3)
#   bash scripts/cassandra.sh logs [-f] [NODE]   # last log lines of node 1 (or NODE); -f follows
#   bash scripts/cassandra.sh version      # the Cassandra version the pom pins
#
# Environment:
#   STRATUS_CASSANDRA_HOME           cache (jars in lib/)               default: <repo>/.cassandra
#   STRATUS_CASSANDRA_DATA           data, commitlog, logs, config      default: $STRATUS_CASSANDRA_HOME/data
#   STRATUS_CASSANDRA_ADDR           address of node 1 (CQL port 9042)  default: 127.0.0.1
#   STRATUS_CASSANDRA_NODES          1, or 3 for a local cluster on ADDR, ADDR+1, ADDR+2   default: 1
#   STRATUS_CASSANDRA_HEAP           JVM heap per node                  default: 1G (768M with several nodes)
#   STRATUS_CASSANDRA_START_TIMEOUT  seconds to wait for readiness      default: 240
#   STRATUS_CASSANDRA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL default: 60
#   STRATUS_CASSANDRA_CLUSTER_NAME   cluster_name (a data folder keeps its name)   default: stratus
#   STRATUS_CASSANDRA_JMX_PORT       enable local-only JMX on this port (+1 per node)  default: off
#   STRATUS_CASSANDRA_PORT           CQL port                           default: 9042
#   STRATUS_CASSANDRA_RING_DELAY_MS  gossip ring delay                  default: 5000
#   STRATUS_CASSANDRA_LOG_LINES      lines shown by logs                default: 100
#   STRATUS_CASSANDRA_AUTH           1: PasswordAuthenticator + CassandraAuthorizer (then run
#                                    node scripts/cassandra-roles.js to make the components' roles);
#                                    0: none. default: 0 here (the test node: test/global-setup.js
#                                    says why); `npm run up` defaults to 1 (scripts/up-env.sh)
#   STRATUS_JAVA                     java binary to use                 default: Java 17 (or 11) found here
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPTS="$REPO/scripts"
TEMPLATES="$SCRIPTS/cassandra"
POM="$TEMPLATES/pom.xml"

abspath() { mkdir -p "$1" && (cd "$1" && pwd); }

CACHE="$(abspath "${STRATUS_CASSANDRA_HOME:-$REPO/.cassandra}")"
LIB="$CACHE/lib"
MARKER="$LIB/.stratus-fetched"
DATA="$(abspath "${STRATUS_CASSANDRA_DATA:-$CACHE/data}")"
ADDR="${STRATUS_CASSANDRA_ADDR:-127.0.0.1}"
PORT="${STRATUS_CASSANDRA_PORT:-9042}"
NODES="${STRATUS_CASSANDRA_NODES:-1}"
CLUSTER_NAME="${STRATUS_CASSANDRA_CLUSTER_NAME:-stratus}"
START_TIMEOUT="${STRATUS_CASSANDRA_START_TIMEOUT:-240}"
STOP_TIMEOUT="${STRATUS_CASSANDRA_STOP_TIMEOUT:-60}"
if [[ "$NODES" -gt 1 ]]; then HEAP="${STRATUS_CASSANDRA_HEAP:-768M}"; else HEAP="${STRATUS_CASSANDRA_HEAP:-1G}"; fi
AUTH="${STRATUS_CASSANDRA_AUTH:-0}"
if [[ "$AUTH" != 0 && "$AUTH" != 1 ]]; then
  printf 'cassandra: STRATUS_CASSANDRA_AUTH must be 0 or 1 (got %s)\n' "$AUTH" >&2
  exit 2
fi
if [[ "$AUTH" == 1 ]]; then
  AUTHENTICATOR=PasswordAuthenticator
  AUTHORIZER=CassandraAuthorizer
else
  AUTHENTICATOR=AllowAllAuthenticator
  AUTHORIZER=AllowAllAuthorizer
fi

log() { printf 'cassandra: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ "$NODES" =~ ^[1-9]$ ]] || die "STRATUS_CASSANDRA_NODES must be 1..9 (got '$NODES')"
[[ "$ADDR" =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.([0-9]+)$ ]] || die "STRATUS_CASSANDRA_ADDR must be an IPv4 address (got '$ADDR')"
ADDR_PREFIX="${BASH_REMATCH[1]}"
ADDR_LAST="${BASH_REMATCH[2]}"
(( ADDR_LAST + NODES - 1 <= 254 )) || die "no room for $NODES nodes after $ADDR"

cassandra_version() { sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$POM" | head -n1; }
pom_stamp() { sha256sum "$POM" | cut -d' ' -f1; }

# ---------------------------------------------------------------- nodes

node_addr() { echo "$ADDR_PREFIX.$((ADDR_LAST + $1 - 1))"; }
node_dir() { if [[ "$NODES" -eq 1 ]]; then echo "$DATA"; else echo "$DATA/node$1"; fi; }

# Evenly spaced single tokens over the Murmur3 ring (what ccm does).
node_token() {
  node -e 'const n=BigInt(process.argv[1]), i=BigInt(process.argv[2]);
           console.log(String((2n**64n / n) * i - 2n**63n));' "$NODES" "$(($1 - 1))"
}

# Every node folder this script may have used under $DATA (single-node and cluster layouts).
all_node_dirs() {
  echo "$DATA"
  local d
  for d in "$DATA"/node[0-9]*; do [[ -d "$d" ]] && echo "$d"; done
  return 0
}

proc_alive() {
  local pid="$1" state
  [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

is_java() { local comm=""; read -r comm 2>/dev/null <"/proc/$1/comm" || true; [[ "$comm" == java ]]; }

# The node folder a process was started for, from its command line.
proc_node_dir() {
  tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline" | sed -n 's/^-Dstratus.cassandra.node=//p' | head -n1
}

# Pid of the Cassandra started for node folder $1, or nothing.
node_pid() {
  local dir="$1" pid
  pid="$(cat "$dir/cassandra.pid" 2>/dev/null || true)"
  if proc_alive "$pid" && [[ "$(proc_node_dir "$pid")" == "$dir" ]]; then echo "$pid"; return 0; fi
  local p
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    is_java "$pid" || continue
    [[ "$(proc_node_dir "$pid")" == "$dir" ]] && proc_alive "$pid" && { echo "$pid"; return 0; }
  done
  return 0
}

# Pids of every Cassandra this script started under $DATA.
all_pids() {
  local p pid dir
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    is_java "$pid" || continue
    dir="$(proc_node_dir "$pid")"
    [[ -n "$dir" ]] || continue
    if [[ "$dir" == "$DATA" || "$dir" == "$DATA"/node* ]] && proc_alive "$pid"; then echo "$pid"; fi
  done
  return 0
}

cql_port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$PORT" 2>/dev/null; }

# One driver probe; prints the release version when ready.
cql_ready() {
  local host="$1" peers="${2:-0}"
  node "$SCRIPTS/cassandra-ready.js" --host "$host" --port "$PORT" --peers "$peers" --timeout-ms 4000 --quiet
}

# ---------------------------------------------------------------- fetch

ensure_node_driver() {
  command -v node >/dev/null 2>&1 || die "node is not installed (Node.js 20+ is needed)"
  if [[ ! -d "$REPO/node_modules/cassandra-driver" ]]; then
    bash "$SCRIPTS/ensure-deps.sh" node
  fi
}

fetch() {
  bash "$SCRIPTS/ensure-deps.sh" system
  local want
  want="$(pom_stamp)"
  if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" ]]; then
    return 0
  fi
  local lock="$CACHE/.fetch.lock"
  (
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" ]]; then exit 0; fi
    local version t0=$SECONDS tmp="$CACHE/lib.tmp.$$"
    version="$(cassandra_version)"
    log "fetching Cassandra $version and its dependencies from Maven Central into $LIB (once per machine)..."
    rm -rf "$tmp"
    mkdir -p "$tmp"
    # -q still prints a few bare colour codes: strip them (pipefail keeps mvn's exit status).
    if ! mvn -B -q -Dstyle.color=never -f "$POM" -Djmc5.path=/tmp -Dvisualvm.path=/tmp \
        dependency:copy-dependencies -DoutputDirectory="$tmp" 2>&1 \
        | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
      rm -rf "$tmp"
      die "mvn dependency:copy-dependencies failed"
    fi
    compgen -G "$tmp/cassandra-all-*.jar" >/dev/null || { rm -rf "$tmp"; die "cassandra-all jar missing after download"; }
    rm -rf "$LIB"
    mv "$tmp" "$LIB"
    echo "$want" >"$MARKER"
    log "fetched $(ls "$LIB"/*.jar | wc -l) jars ($(du -sh "$LIB" | cut -f1)) in $((SECONDS - t0))s"
  ) 9>"$lock"
}

# ---------------------------------------------------------------- java

java_major() {
  local v
  v="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1)"
  v="${v#1.}"
  echo "${v:-0}"
}

find_java() {
  if [[ -n "${STRATUS_JAVA:-}" ]]; then echo "$STRATUS_JAVA"; return; fi
  local c cands=()
  [[ -n "${JAVA_HOME:-}" ]] && cands+=("$JAVA_HOME/bin/java")
  for c in /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/java-11-openjdk-*/bin/java; do cands+=("$c"); done
  c="$(command -v java || true)"
  [[ -n "$c" ]] && cands+=("$c")
  local first=""
  for c in "${cands[@]}"; do
    [[ -x "$c" ]] || continue
    [[ -z "$first" ]] && first="$c"
    case "$(java_major "$c")" in 11|17) echo "$c"; return ;; esac
  done
  [[ -n "$first" ]] || die "no java found (run: bash scripts/ensure-deps.sh system)"
  log "warning: Cassandra 5.0 supports Java 11 and 17; using $first"
  echo "$first"
}

# JVM options from Cassandra 5.0's conf/jvm-server.options and conf/jvm17-server.options.
jvm_opts() {
  local major="$1"
  local opts=(
    -ea -da:net.openhft...
    -XX:+UseThreadPriorities -Xss256k -XX:+UseTLAB -XX:+ResizeTLAB -XX:+UseNUMA
    -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError
    -Djava.net.preferIPv4Stack=true -Dchronicle.analytics.disable=true
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
    -XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
    -Djdk.attach.allowAttachSelf=true
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true -Dio.netty.allocator.maxOrder=11
  )
  if [[ "$major" -ge 11 ]]; then
    opts+=(
      --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
      --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
      --add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED
      --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
      --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
      --add-exports java.sql/java.sql=ALL-UNNAMED
      --add-exports java.base/java.lang.ref=ALL-UNNAMED
      --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
      --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
      --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
      --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
      --add-opens java.base/java.lang.module=ALL-UNNAMED
      --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
      --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
      --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
      --add-opens java.base/jdk.internal.math=ALL-UNNAMED
      --add-opens java.base/jdk.internal.module=ALL-UNNAMED
      --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
      --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
      --add-opens java.base/sun.nio.ch=ALL-UNNAMED
      --add-opens java.base/java.io=ALL-UNNAMED
      --add-opens java.base/java.lang.reflect=ALL-UNNAMED
      --add-opens java.base/java.lang=ALL-UNNAMED
      --add-opens java.base/java.util=ALL-UNNAMED
      --add-opens java.base/java.nio=ALL-UNNAMED
    )
  fi
  [[ "$major" -ge 18 ]] && opts+=(-Djava.security.manager=allow)
  printf '%s\n' "${opts[@]}"
}

# ---------------------------------------------------------------- start

write_config() {
  local i="$1" dir="$2" addr seeds token auto_bootstrap
  addr="$(node_addr "$i")"
  seeds="$(node_addr 1):7000"
  token="$(node_token "$i")"
  if [[ "$i" -eq 1 ]]; then auto_bootstrap=true; else auto_bootstrap=false; fi
  mkdir -p "$dir"/{conf/triggers,data,commitlog,saved_caches,hints,cdc_raw,logs,heapdump}
  sed -e "s|@CLUSTER_NAME@|$CLUSTER_NAME|g" \
      -e "s|@INITIAL_TOKEN@|$token|g" \
      -e "s|@AUTO_BOOTSTRAP@|$auto_bootstrap|g" \
      -e "s|@SEEDS@|$seeds|g" \
      -e "s|@LISTEN_ADDRESS@|$addr|g" \
      -e "s|@RPC_ADDRESS@|$addr|g" \
      -e "s|@NATIVE_PORT@|$PORT|g" \
      -e "s|@NODE_DIR@|$dir|g" \
      -e "s|@AUTHENTICATOR@|$AUTHENTICATOR|g" \
      -e "s|@AUTHORIZER@|$AUTHORIZER|g" \
      "$TEMPLATES/cassandra.yaml.tmpl" >"$dir/conf/cassandra.yaml.new"
  if grep -q '@[A-Z_]*@' "$dir/conf/cassandra.yaml.new"; then
    die "unsubstituted placeholder in $dir/conf/cassandra.yaml.new: $(grep -o '@[A-Z_]*@' "$dir/conf/cassandra.yaml.new" | head -n1)"
  fi
  mv "$dir/conf/cassandra.yaml.new" "$dir/conf/cassandra.yaml"
  cp "$TEMPLATES/logback.xml" "$dir/conf/logback.xml"
}

launch_node() {
  local i="$1" dir java major jamm
  dir="$(node_dir "$i")"
  write_config "$i" "$dir"
  java="$(find_java)"
  major="$(java_major "$java")"
  jamm="$(compgen -G "$LIB/jamm-*.jar" | head -n1 || true)"
  # Telling peers about a shutdown (gossip) only matters with peers: a lone node stops 2 s faster.
  local shutdown_announce=2000
  [[ "$NODES" -eq 1 ]] && shutdown_announce=100
  local args=()
  mapfile -t args < <(jvm_opts "$major")
  args+=("-Xms$HEAP" "-Xmx$HEAP")
  [[ -n "$jamm" ]] && args+=("-javaagent:$jamm")
  # With authentication on, create the default superuser (cassandra) at once, not after 10 s.
  if [[ "$AUTH" == 1 ]]; then args+=(-Dcassandra.superuser_setup_delay_ms=500); fi
  # In a cluster the system keyspaces that hold roles, permissions and repair history are created
  # replicated on up to 3 nodes (Cassandra's default is 1: a role would then live on one node only,
  # and logging in would fail whenever that node is down). The seed creates them before its peers
  # join, so this must be right from the first start; scripts/cassandra-roles.js fixes older clusters.
  if [[ "$NODES" -gt 1 ]]; then
    local rf=$(( NODES < 3 ? NODES : 3 ))
    args+=("-Dcassandra.system_auth.default_rf=$rf" "-Dcassandra.system_distributed.default_rf=$rf" "-Dcassandra.system_traces.default_rf=$rf")
  fi
  if [[ -n "${STRATUS_CASSANDRA_JMX_PORT:-}" ]]; then
    args+=("-Dcassandra.jmx.local.port=$((STRATUS_CASSANDRA_JMX_PORT + i - 1))")
  fi
  args+=(
    "-Dstratus.cassandra.node=$dir"
    -Dcassandra-foreground=yes
    "-Dcassandra.config=file://$dir/conf/cassandra.yaml"
    "-Dcassandra.storagedir=$dir"
    "-Dcassandra.logdir=$dir/logs"
    "-Dlogback.configurationFile=$dir/conf/logback.xml"
    "-Dcassandra.triggers_dir=$dir/conf/triggers"
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    "-Dcassandra.ring_delay_ms=${STRATUS_CASSANDRA_RING_DELAY_MS:-5000}"
    "-Dcassandra.shutdown_announce_in_ms=$shutdown_announce"
    "-XX:ErrorFile=$dir/logs/hs_err_%p.log"
    -cp "$LIB/*"
    org.apache.cassandra.service.CassandraDaemon
  )
  rm -f "$dir/cassandra.pid"
  stat -c %s "$dir/logs/system.log" >"$dir/logs/.launch-offset" 2>/dev/null || echo 0 >"$dir/logs/.launch-offset"
  {
    echo "===== $(date -u +%FT%TZ) starting node $i at $(node_addr "$i"):$PORT"
    printf '%q ' "$java" "${args[@]}"
    echo
  } >>"$dir/logs/stdout.log"
  # setsid + nohup: the node outlives the calling shell; all fds go to files so $(...) callers don't hang.
  (cd "$dir" && exec nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/cassandra.pid" "$java" "${args[@]}" \
      >>"$dir/logs/stdout.log" 2>&1 </dev/null 8>&- 9>&-) &
  local n=0
  while [[ ! -s "$dir/cassandra.pid" && $n -lt 50 ]]; do sleep 0.1; n=$((n + 1)); done
  log "node $i launched (pid $(cat "$dir/cassandra.pid" 2>/dev/null || echo '?'), $(node_addr "$i"), heap $HEAP, data $dir)"
}

# system.log lines written since the last launch of the node in folder $1.
log_since_launch() {
  local f="$1/logs/system.log" off
  off="$(cat "$1/logs/.launch-offset" 2>/dev/null || echo 0)"
  [[ -f "$f" ]] || return 0
  if [[ $(stat -c %s "$f") -lt $off ]]; then off=0; fi  # rolled over
  tail -c +"$((off + 1))" "$f"
}

show_failure() {
  local dir="$1"
  log "---- last 40 lines of $dir/logs/system.log ----"
  log_since_launch "$dir" | tail -n 40 >&2
  if [[ -s "$dir/logs/stdout.log" ]]; then
    log "---- last 15 lines of $dir/logs/stdout.log (JVM output) ----"
    # after this launch's header and command line
    awk '/^===== /{n=NR} {l[NR]=$0} END {for (i=n+2; i<=NR; i++) print l[i]}' "$dir/logs/stdout.log" | tail -n 15 >&2
  fi
  if log_since_launch "$dir" | grep -q "Saved cluster name"; then
    log "hint: $dir holds another cluster's data: delete that folder, or set STRATUS_CASSANDRA_DATA elsewhere"
  fi
}

# wait_ready DEADLINE_EPOCH NODE... : every node answers CQL; with WAIT_PEERS=N, each also lists
# N peers in system.peers_v2 (every node sees every other one).
wait_ready() {
  local deadline="$1"; shift
  local pending=("$@") last_dot=$SECONDS dots=0 i dir pid still version
  while :; do
    still=()
    for i in "${pending[@]}"; do
      dir="$(node_dir "$i")"
      pid="$(node_pid "$dir")"
      if [[ -z "$pid" ]]; then
        [[ $dots -gt 0 ]] && printf '\n' >&2
        log "node $i ($(node_addr "$i")) exited during start-up"
        show_failure "$dir"
        return 1
      fi
      local peers="${WAIT_PEERS:-0}"
      if cql_port_open "$(node_addr "$i")" && version="$(cql_ready "$(node_addr "$i")" "$peers")"; then
        CASSANDRA_RELEASE="$version"
      else
        still+=("$i")
      fi
    done
    pending=("${still[@]+"${still[@]}"}")
    if [[ ${#pending[@]} -eq 0 ]]; then
      [[ $dots -gt 0 ]] && printf '\n' >&2
      return 0
    fi
    if [[ $(date +%s) -ge $deadline ]]; then
      [[ $dots -gt 0 ]] && printf '\n' >&2
      log "timed out after ${START_TIMEOUT}s waiting for node(s) ${pending[*]}"
      for i in "${pending[@]}"; do show_failure "$(node_dir "$i")"; done
      return 1
    fi
    if (( SECONDS - last_dot >= 3 )); then printf '.' >&2; last_dot=$SECONDS; dots=$((dots + 1)); fi
    sleep 1
  done
}

# Refuses to launch node $1 when its CQL address is answered by a process that is not that node:
# another mode's node of the same data folder, or something else.
check_addr_free() {
  local i="$1" addr dir
  addr="$(node_addr "$i")"
  dir="$(node_dir "$i")"
  cql_port_open "$addr" || return 0
  [[ -n "$(node_pid "$dir")" ]] && return 0
  if [[ "$NODES" -gt 1 && -n "$(node_pid "$DATA")" ]]; then
    die "a single-node Cassandra of $DATA runs at $addr:$PORT: stop it first (npm run down, or bash scripts/cassandra.sh stop with the same STRATUS_CASSANDRA_DATA), then start the $NODES-node cluster"
  fi
  if [[ "$NODES" -eq 1 && -n "$(all_pids)" ]]; then
    die "a $(ls -d "$DATA"/node[0-9]* 2>/dev/null | wc -l)-node Cassandra cluster of $DATA runs at $addr:$PORT: stop it first (npm run down), or start it again with STRATUS_CASSANDRA_NODES (npm run up -- --cluster)"
  fi
  die "$addr:$PORT is taken by a process that is not a Cassandra node of $DATA: stop it, or choose another STRATUS_CASSANDRA_ADDR"
}

all_answer() {
  local i
  for i in $(seq 1 "$NODES"); do cql_port_open "$(node_addr "$i")" || return 1; done
}

start() {
  local t0 deadline
  t0=$(date +%s.%N)
  if all_answer; then
    echo "cassandra already running at $ADDR:$PORT"
    return 0
  fi
  fetch
  ensure_node_driver
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  # Two concurrent starts: the second waits for the first, then finds it running.
  exec 8>"$DATA/.start.lock"
  if command -v flock >/dev/null 2>&1; then flock -w "$START_TIMEOUT" 8 || die "another start holds $DATA/.start.lock"; fi
  if all_answer; then
    echo "cassandra already running at $ADDR:$PORT"
    return 0
  fi
  local version
  version="$(cassandra_version)"
  log "starting Cassandra $version: $NODES node(s) from $ADDR, CQL port $PORT, data in $DATA"

  # Node 1 (the seed) first.
  local d1
  d1="$(node_dir 1)"
  local j
  for j in $(seq 1 "$NODES"); do check_addr_free "$j"; done
  if [[ -n "$(node_pid "$d1")" ]]; then
    log "node 1 already launched (pid $(node_pid "$d1")); waiting for it"
  else
    launch_node 1
  fi
  if ! wait_ready "$deadline" 1; then stop_nodes >/dev/null 2>&1 || true; exit 1; fi

  # Then the others together (auto_bootstrap: false).
  if [[ "$NODES" -gt 1 ]]; then
    local i rest=()
    for i in $(seq 2 "$NODES"); do
      if [[ -z "$(node_pid "$(node_dir "$i")")" ]]; then launch_node "$i"; fi
      rest+=("$i")
    done
    if ! WAIT_PEERS=$((NODES - 1)) wait_ready "$deadline" "${rest[@]}" 1; then stop_nodes >/dev/null 2>&1 || true; exit 1; fi
  fi

  local took
  took="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
  local release="${CASSANDRA_RELEASE:-$version}"
  [[ "$release" == "authentication required" ]] && release="$version, authentication on"
  log "Cassandra $release ready at $ADDR:$PORT ($NODES node(s)) in ${took}s"
  echo "cassandra ready at $ADDR:$PORT"
}

# ---------------------------------------------------------------- stop / status / logs

stop_nodes() {
  local pids=()
  mapfile -t pids < <(all_pids)
  if [[ ${#pids[@]} -eq 0 ]]; then
    log "not running (no node started by this script under $DATA)"
    clean_pidfiles
    return 0
  fi
  log "stopping pid(s) ${pids[*]} (SIGTERM)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local t0=$SECONDS alive p last_dot=$SECONDS
  while :; do
    alive=()
    for p in "${pids[@]}"; do proc_alive "$p" && alive+=("$p"); done
    [[ ${#alive[@]} -eq 0 ]] && break
    if (( SECONDS - t0 >= STOP_TIMEOUT )); then
      log "still alive after ${STOP_TIMEOUT}s: ${alive[*]}; sending SIGKILL"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 1
      break
    fi
    if (( SECONDS - last_dot >= 3 )); then printf '.' >&2; last_dot=$SECONDS; fi
    sleep 0.5
  done
  (( SECONDS - t0 >= 3 )) && printf '\n' >&2
  clean_pidfiles
  log "stopped in $((SECONDS - t0))s"
}

clean_pidfiles() {
  local d
  while IFS= read -r d; do
    if [[ -f "$d/cassandra.pid" ]] && ! proc_alive "$(cat "$d/cassandra.pid" 2>/dev/null)"; then rm -f "$d/cassandra.pid"; fi
  done < <(all_node_dirs)
}

status() {
  if cql_port_open "$ADDR"; then
    echo "running"
    return 0
  fi
  local pid
  pid="$(node_pid "$(node_dir 1)")"
  if [[ -n "$pid" ]]; then
    echo "starting (pid $pid; CQL port $ADDR:$PORT not answering yet)"
  else
    echo "stopped"
  fi
  return 3
}

logs() {
  local follow=() n=1
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -f|--follow) follow=(-F) ;;
      [0-9]*) n="$1" ;;
      *) die "usage: cassandra.sh logs [-f] [NODE]" ;;
    esac
    shift
  done
  local f
  f="$(node_dir "$n")/logs/system.log"
  [[ -f "$f" ]] || die "no log yet at $f"
  exec tail -n "${STRATUS_CASSANDRA_LOG_LINES:-100}" "${follow[@]+"${follow[@]}"}" "$f"
}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  fetch) fetch ;;
  start) start ;;
  stop) stop_nodes ;;
  restart) stop_nodes; start ;;
  status) status ;;
  logs) logs "$@" ;;
  version) cassandra_version ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
