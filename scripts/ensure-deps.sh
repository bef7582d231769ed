#!/usr/bin/env bash
# Installs what the project needs on this machine, and only what is missing.
#
#   bash scripts/ensure-deps.sh system   # Debian packages listed in scripts/apt-packages.txt
#   bash scripts/ensure-deps.sh node     # npm install when node_modules is missing or older than package-lock.json
#   bash scripts/ensure-deps.sh all      # both
#
# scripts/apt-packages.txt: one "command-or-absolute-path  package" per line, '#' starts a comment.
# A package is installed when its command is not on PATH (or its absolute path does not exist).
# apt-get update runs once, and only when something is missing. Progress goes to stderr.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APT_LIST="${STRATUS_APT_PACKAGES:-$REPO/scripts/apt-packages.txt}"

log() { printf 'ensure-deps: %s\n' "$*" >&2; }

ensure_system() {
  if [[ ! -f "$APT_LIST" ]]; then
    log "no $APT_LIST; nothing to install"
    return 0
  fi
  local missing=() line check pkg
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%%#*}"
    read -r check pkg _ <<<"$line" || true
    [[ -z "${check:-}" ]] && continue
    if [[ -z "${pkg:-}" ]]; then
      log "ignoring malformed line in $(basename "$APT_LIST"): '$line'"
      continue
    fi
    if [[ "$check" == /* ]]; then
      [[ -e "$check" ]] && continue
    else
      command -v "$check" >/dev/null 2>&1 && continue
    fi
    # de-duplicate
    local seen=0 p
    for p in "${missing[@]+"${missing[@]}"}"; do [[ "$p" == "$pkg" ]] && seen=1; done
    [[ $seen == 0 ]] && missing+=("$pkg")
  done <"$APT_LIST"

  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  log "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo -n)
    else
      log "not root and no sudo: install ${missing[*]} by hand"
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not found: install ${missing[*]} by hand"
    return 1
  fi
  # The JDK packages' postinst fails on slim images that lack this folder.
  "${sudo[@]}" mkdir -p /usr/share/man/man1
  export DEBIAN_FRONTEND=noninteractive
  local t0=$SECONDS
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >&2
  hash -r
  log "installed ${missing[*]} in $((SECONDS - t0))s"
}

ensure_node() {
  cd "$REPO"
  if [[ ! -f package-lock.json ]]; then
    log "no package-lock.json; skipping npm install"
    return 0
  fi
  if [[ -d node_modules && -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "npm not found: install Node.js 20+ first"
    return 1
  fi
  # npm install (not npm ci): with this machine's omit-lockfile-registry-resolved setting, npm 11
  # writes lock files whose platform-specific optional packages `npm ci` then calls missing.
  log "installing npm packages (node_modules missing or older than package-lock.json)"
  local t0=$SECONDS
  npm install --no-fund --no-audit >&2
  log "npm install done in $((SECONDS - t0))s"
}

case "${1:-all}" in
  system) ensure_system ;;
  node) ensure_node ;;
  all) ensure_system; ensure_node ;;
  -h|--help|help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" ;;
  *) log "unknown mode '$1' (use system, node or all)"; exit 2 ;;
esac
