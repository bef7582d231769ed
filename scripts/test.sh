#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, and runs the whole suite against a real Cassandra
# node that jest's global setup starts once for the run (and stops, if it started it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh all
bash scripts/cassandra.sh fetch
echo "building..." >&2
npm run --silent build
echo "checking the import rules (ARCHITECTURE.md)..." >&2
npm run --silent lint:layers
exec npx jest --json --outputFile=.jest-results.json "$@"
