#!/usr/bin/env bash
# A long-lived local FerretDB for development: `db.sh up|down|status`.
# Data in .run/ferretdb, listening on 127.0.0.1:${VALOR_DB_PORT:-27017}.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/.run"
port=${VALOR_DB_PORT:-27017}
debug_port=${VALOR_DB_DEBUG_PORT:-$((port + 1000))}
pidfile="$run/ferretdb.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-}" in
  up)
    if running; then echo "FerretDB already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; exit 0; fi
    mkdir -p "$run/ferretdb"
    nohup "$root/.tools/bin/ferretdb" --handler=sqlite --sqlite-url="file:$run/ferretdb/" \
      --listen-addr="127.0.0.1:$port" --debug-addr="127.0.0.1:$debug_port" --state-dir="$run/ferretdb" \
      --telemetry=disable --log-level=warn >"$run/ferretdb.log" 2>&1 &
    echo $! >"$pidfile"
    node "$root/dist/infra/local/wait-for-mongo.js" "mongodb://127.0.0.1:$port/"
    echo "FerretDB up on 127.0.0.1:$port (MONGODB_URI=mongodb://127.0.0.1:$port/)"
    ;;
  down)
    if running; then kill "$(cat "$pidfile")"; echo "FerretDB stopped"; else echo "FerretDB not running"; fi
    rm -f "$pidfile"
    ;;
  status)
    if running; then echo "running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; else echo "not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
