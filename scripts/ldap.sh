#!/usr/bin/env bash
# A throw-away OpenLDAP directory (Debian's slapd) on a loopback port, for the LDAP tests and for
# trying LDAP logins locally. Its data and config live in one folder; nothing touches /etc/ldap.
#
#   bash scripts/ldap.sh start     # install slapd if missing, create the directory once, start it
#   bash scripts/ldap.sh stop      # stop the slapd started for this folder (idempotent)
#   bash scripts/ldap.sh status    # "running" (exit 0) or "stopped" (exit 3)
#   bash scripts/ldap.sh env       # the STRATUS_LDAP_* settings a frontend needs for this directory
#
# Environment:
#   STRATUS_LDAP_DIR     folder of the config, data, pid file        default: <repo>/.stratus/ldap
#   STRATUS_LDAP_ADDR    listen address                              default: 127.0.0.1
#   STRATUS_LDAP_PORT    listen port                                 default: 3890
#   STRATUS_LDAP_SUFFIX  base DN                                     default: dc=stratus,dc=test
#
# The directory holds people alice, bob and carol (password "<uid>-password"), groups
# developers (alice, bob), stratus-admins (carol) and auditors (posixGroup: bob), and a read-only
# service account cn=reader (password "reader-password") for search-then-bind.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${STRATUS_LDAP_DIR:-$REPO/.stratus/ldap}"
ADDR="${STRATUS_LDAP_ADDR:-127.0.0.1}"
PORT="${STRATUS_LDAP_PORT:-3890}"
SUFFIX="${STRATUS_LDAP_SUFFIX:-dc=stratus,dc=test}"
URL="ldap://$ADDR:$PORT"
SLAPD="${STRATUS_SLAPD:-/usr/sbin/slapd}"

log() { printf 'ldap: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pid_of() {
  local pid
  pid="$(cat "$DIR/slapd.pid" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
  return 0
}

answers() { ldapsearch -x -H "$URL" -b '' -s base -LLL namingContexts >/dev/null 2>&1; }

ensure_slapd() {
  if [[ ! -x "$SLAPD" ]] || ! command -v slapadd >/dev/null 2>&1 || ! command -v ldapsearch >/dev/null 2>&1; then
    bash "$REPO/scripts/ensure-deps.sh" system
  fi
  [[ -x "$SLAPD" ]] || die "slapd is not installed (Debian package slapd)"
}

create() {
  mkdir -p "$DIR/data"
  chmod 700 "$DIR"
  [[ -f "$DIR/slapd.conf" && -f "$DIR/data/data.mdb" ]] && return 0
  log "creating a test directory for $SUFFIX in $DIR"
  local rootpw dc
  rootpw="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  printf '%s\n' "$rootpw" >"$DIR/admin.password"
  chmod 600 "$DIR/admin.password"
  dc="$(sed -n 's/^dc=\([^,]*\).*/\1/p' <<<"$SUFFIX")"
  sed -e "s|@DIR@|$DIR|g" -e "s|@SUFFIX@|$SUFFIX|g" -e "s|@ROOTPW@|$(slappasswd -s "$rootpw")|g" \
    "$REPO/scripts/ldap/slapd.conf.tmpl" >"$DIR/slapd.conf"
  sed -e "s|@SUFFIX@|$SUFFIX|g" -e "s|@DC@|$dc|g" \
      -e "s|@READERPW@|$(slappasswd -s reader-password)|" \
      -e "s|@ALICEPW@|$(slappasswd -s alice-password)|" \
      -e "s|@BOBPW@|$(slappasswd -s bob-password)|" \
      -e "s|@CAROLPW@|$(slappasswd -s carol-password)|" \
    "$REPO/scripts/ldap/seed.ldif" >"$DIR/seed.ldif"
  slapadd -q -f "$DIR/slapd.conf" -l "$DIR/seed.ldif" >&2
}

start() {
  if [[ -n "$(pid_of)" ]] && answers; then echo "ldap already running at $URL"; return 0; fi
  ensure_slapd
  create
  local user_args=()
  # As root, run slapd as Debian's unprivileged openldap user (it owns only this folder).
  if [[ $(id -u) -eq 0 ]] && id openldap >/dev/null 2>&1; then
    chown -R openldap:openldap "$DIR"
    user_args=(-u openldap -g openldap)
  fi
  "$SLAPD" -f "$DIR/slapd.conf" -h "$URL/" "${user_args[@]+"${user_args[@]}"}" -s 0 2>"$DIR/slapd.log" \
    || { cat "$DIR/slapd.log" >&2; die "slapd did not start"; }
  for _ in $(seq 1 100); do
    if answers; then echo "ldap ready at $URL"; return 0; fi
    sleep 0.1
  done
  cat "$DIR/slapd.log" >&2
  die "slapd did not answer at $URL"
}

stop() {
  local pid
  pid="$(pid_of)"
  if [[ -z "$pid" ]]; then log "not running"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || { log "stopped"; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  log "killed"
}

status() {
  if [[ -n "$(pid_of)" ]] && answers; then echo running; return 0; fi
  echo stopped
  return 3
}

print_env() {
  cat <<ENV
STRATUS_LDAP_URL=$URL
STRATUS_LDAP_USER_DN_TEMPLATE=uid={username},ou=people,$SUFFIX
STRATUS_LDAP_GROUP_BASE=ou=groups,$SUFFIX
ENV
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
