#!/usr/bin/env bash
# `tasker serve` under load from wrk (Debian's), as docs/performance.md reports it:
# GET /v1/tasks/UUID (one task read from SQLite, 2 KB of JSON) by 64 clients,
#   1. each on its own kept-alive connection,
#   2. with a new connection per request,
#   3. and 4. the same through nginx in front (docs/deployment.md's block, on
#      plain HTTP and without its per-client rate limit, so the proxy's own
#      cost is what shows),
#   5. kept-alive again while 150 slow clients trickle request headers (a byte
#      every 500 ms, reconnecting when cut off at server.header_timeout_ms).
# Everything on loopback; each run lasts SECONDS (default 15).
#
#   bench/http_edge.sh [TASKER_CLI] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${1:-build/release/cli/tasker}
seconds=${2:-15}
work=$(mktemp -d /tmp/tasker-http-edge.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$cli" serve --db "sqlite://$work/tasker.db" --templates templates --listen 127.0.0.1:0 > "$work/serve.out" 2> /dev/null &
pids+=($!)
for _ in $(seq 600); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
url=$(head -1 "$work/serve.out")
port=${url##*:}
uuid=$(curl -s "$url/v1/tasks" -H 'Content-Type: application/json' \
  -d '{"namespace": "linear_workflow", "name": "mathematical_sequence", "context": {"even_number": 6}}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["task_uuid"])')

nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scripts/nginx-conf "$work" "$port" "$nginx_port" plain > "$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
pids+=($!)
sleep 1

run() {  # NAME URL [wrk options]
  local name=$1 target=$2
  shift 2
  local out
  out=$(wrk -t2 -c64 -d"${seconds}s" --latency "$@" "$target")
  printf '%-44s %10s req/s   p50 %8s   p99 %8s   errors %s\n' "$name" \
    "$(awk '/^Requests\/sec/ {print $2}' <<< "$out")" \
    "$(awk '$1 == "50%" {print $2}' <<< "$out")" "$(awk '$1 == "99%" {print $2}' <<< "$out")" \
    "$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<< "$out")"
}
run "tasker, 64 kept-alive connections" "$url/v1/tasks/$uuid"
run "tasker, a new connection per request" "$url/v1/tasks/$uuid" -H 'Connection: close'
run "nginx → tasker, 64 kept-alive connections" "http://127.0.0.1:$nginx_port/v1/tasks/$uuid"
run "nginx → tasker, a new connection per request" "http://127.0.0.1:$nginx_port/v1/tasks/$uuid" -H 'Connection: close'

python3 - "$port" "$seconds" <<'PY' &
import socket, sys, time
port, seconds = int(sys.argv[1]), int(sys.argv[2])
def connect(i):
    s = socket.socket()
    s.bind((f"127.0.0.{2 + i % 2}", 0))  # two client addresses: 75 each, under the per-client limit
    s.connect(("127.0.0.1", port))
    s.send(b"GET /v1/tasks HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
    return s
slow = [connect(i) for i in range(150)]
end = time.time() + seconds + 5
while time.time() < end:
    for i, s in enumerate(slow):
        try:
            s.send(b"x")
        except OSError:  # cut off at the header deadline: come back
            s.close()
            slow[i] = connect(i)
    time.sleep(0.5)
PY
pids+=($!)
sleep 2
run "tasker, 64 kept-alive, 150 slow clients" "$url/v1/tasks/$uuid"
