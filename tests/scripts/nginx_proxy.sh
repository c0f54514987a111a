#!/usr/bin/env bash
# nginx in front of `tasker serve`, with the configuration docs/deployment.md
# gives (scripts/nginx-conf: its ```nginx block as the page has it), nginx and
# tasker on loopback, with a throwaway certificate. Requests go through nginx over
# TLS: tasker's answers arrive whole with their headers, nginx's own limit holds.
#
#   nginx_proxy.sh TASKER_CLI SOURCE_DIR WORK_DIR
set -euo pipefail
cli=$1 source=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || { echo "nginx_proxy: nginx is not installed (scripts/setup installs it)" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$cli" serve --db "sqlite://$work/tasker.db" --templates "$source/templates" --listen 127.0.0.1:0 \
  > "$work/serve.out" 2> "$work/serve.err" &
pids+=($!)
for _ in $(seq 600); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
tasker_url=$(head -1 "$work/serve.out")
[ -n "$tasker_url" ] || { echo "nginx_proxy: tasker serve did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
tasker_port=${tasker_url##*:}
nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2> /dev/null
"$source/scripts/nginx-conf" "$work" "$tasker_port" "$nginx_port" tls > "$work/nginx.conf"
"$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
pids+=($!)

python3 - "$nginx_port" <<'PY'
import http.client, json, ssl, sys, time
port = int(sys.argv[1])
context = ssl._create_unverified_context()
def call(method, path, body=None, headers=None):
    for attempt in range(300):  # nginx may not listen yet
        try:
            c = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        except (ConnectionRefusedError, ssl.SSLError):
            time.sleep(0.1)
    sys.exit("nginx_proxy: nginx did not answer")
failures = []
def check(what, ok):
    print(("ok  " if ok else "FAIL") + " " + what)
    if not ok: failures.append(what)
status, headers, body = call("GET", "/health")
check("GET /health through nginx is 200", status == 200 and json.loads(body)["status"] == "healthy")
check("tasker's x-request-id and nosniff pass through", bool(headers.get("x-request-id")) and headers.get("x-content-type-options") == "nosniff")
task = {"namespace": "linear_workflow", "name": "mathematical_sequence", "context": {"even_number": 6}}
status, headers, body = call("POST", "/v1/tasks", json.dumps(task), {"Content-Type": "application/json"})
check("POST /v1/tasks through nginx is 201", status == 201)
uuid = json.loads(body)["task_uuid"] if status == 201 else ""
status, headers, body = call("GET", "/v1/tasks/" + uuid)
check("the task reads back through nginx", status == 200 and json.loads(body)["task_uuid"] == uuid)
status, headers, body = call("POST", "/v1/tasks", b"{" + b" " * (2 * 1024 * 1024) + b"}", {"Content-Type": "application/json"})
# tasker refuses it too (server.max_body_bytes, 1 MiB): only an answer that is not tasker's JSON error
# shows that nginx's own limit refused it first.
check("a 2 MiB body is refused by nginx (client_max_body_size) with 413, before tasker",
      status == 413 and "application/json" not in headers.get("content-type", ""))
status, headers, body = call("GET", "/v1/no_such_route")
check("tasker's error body passes through", status == 404 and json.loads(body)["error"]["code"] == "NOT_FOUND")
print(f"{5 + 1 - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
PY
