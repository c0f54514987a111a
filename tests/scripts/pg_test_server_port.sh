#!/usr/bin/env bash
# scripts/pg-test-server, when another process holds its port, starts on the
# next free one and prints that port in its URL; `restart` keeps it. Fails
# with the script before it learnt to (it stopped: "is the port already in use?").
#   tests/scripts/pg_test_server_port.sh SCRIPT DIR PORT
set -euo pipefail
script=$1 dir=$2 port=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
trap '"$script" stop "$dir" >/dev/null 2>&1 || true; [ -n "${holder:-}" ] && kill "$holder" 2>/dev/null || true' EXIT

# Another process listens on PORT (or the first free port after it) for as
# long as the test runs.
python3 -c '
import socket, sys, time
for port in range(int(sys.argv[1]), int(sys.argv[1]) + 20):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    s.listen()
    print("holding", port, flush=True)
    time.sleep(600)' "$port" >"$dir.holder" &
holder=$!
for _ in $(seq 1 100); do grep -q holding "$dir.holder" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/^holding //p' "$dir.holder")
rm -f "$dir.holder"
[ -n "$port" ] || fail "could not hold a port for the test"

url=$("$script" start "$dir" "$port")
got=$(sed -n 's|^postgresql://[^@]*@127.0.0.1:\([0-9]*\)/tasker$|\1|p' <<<"$url")
[ -n "$got" ] || fail "no port in the URL \`$url\`"
if [ "$got" -le "$port" ] || [ "$got" -gt $((port + 19)) ]; then fail "expected a port after $port, got $got"; fi
psql "$url" -qAtXc "SELECT 1" | grep -qx 1 || fail "no server answers at $url"
"$script" restart "$dir"
psql "$url" -qAtXc "SELECT 1" | grep -qx 1 || fail "no server answers at $url after a restart"
echo "PASS: port $port taken, the server started on $got and kept it across a restart"
