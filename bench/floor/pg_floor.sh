#!/usr/bin/env bash
# What tasker's design costs PostgreSQL with nothing of tasker around it: the
# rows a submit and a worker transaction write (submit.sql; step.sql: record a
# step, claim the next, their tasks' rows, four transitions per step; a 4-step
# task's 6 transactions: submit.sql, claim_first.sql, record.sql x 4), each
# transaction one prepared statement run by pgbench, beside pgbench's
# single-INSERT rate and tasker's own drains, in rounds on one durable server.
# docs/performance.md, "The floor".
#
#   bench/floor/pg_floor.sh BUILD_DIR [ROUNDS] [PORT]
#
# Needs pgbench and psql (Debian: postgresql-15, postgresql-client-15) and a
# release build (BUILD_DIR/cli/tasker, BUILD_DIR/bench/bench_postgres).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: pg_floor.sh BUILD_DIR [ROUNDS] [PORT]}" && pwd)
rounds=${2:-3}
port=${3:-38473}
dir=$(mktemp -d /tmp/tasker-floor-XXXXXX)
trap '"$root/scripts/pg-test-server" stop "$dir" >/dev/null 2>&1 || true' EXIT

url=$("$root/scripts/pg-test-server" start "$dir" "$port" --durable)
port=${url##*:} port=${port%%/*}  # the next free one when PORT was taken
PGPASSWORD=$(cat "$(cat "$dir/server-dir")/superuser.pw")
export PGPASSWORD
psql=(psql -h 127.0.0.1 -p "$port" -U postgres -d tasker -qX -v ON_ERROR_STOP=1)
TASKER_DATABASE_URL="$url?schema=floor" "$build/cli/tasker" migrate >/dev/null
"${psql[@]}" -c "CREATE TABLE floor.ceiling (id BIGSERIAL PRIMARY KEY, v INTEGER)"

# step.sql's variants: without its transitions; with its two step-row updates only.
sed '/^), transitions AS (/,/^)$/{/^)$/!d}' "$here/step.sql" >"$dir/step_no_transitions.sql"
sed -e '/^), done_task AS (/,/^), pick AS (/{/^), pick AS (/!d}' -e '/^), started AS (/,/^)$/{/^)$/!d}' \
  "$here/step.sql" >"$dir/step_rows_only.sql"
# A 4-step task from submit to completion: 6 transactions.
{
  printf '\\set steps 4\n\\set priority 100\n'
  cat "$here/submit.sql" "$here/claim_first.sql"
  for k in 0 1 2 3; do
    printf '\\set step :first + %d\n\\set last %d\n' "$k" $((k == 3))
    cat "$here/record.sql"
  done
} >"$dir/latency.sql"

# tps of SCRIPT (a path) at CLIENTS clients for 4 s; then pgbench's -D VAR=VALUE.
bench() {
  local script=$1 clients=$2
  shift 2
  local out
  out=$(pgbench -h 127.0.0.1 -p "$port" -U postgres -n -M prepared -f "$script" "${@/#/-D}" -c "$clients" \
    -j $((clients < 2 ? clients : 2)) -T 4 tasker 2>&1) || { echo "pg_floor.sh: pgbench $script failed: $out" >&2; return 1; }
  sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out"
}
# "STEPS_PER_S SUBMIT_SECONDS" of one tasker drain (bench_postgres --one SPEC:
# it submits the tasks one by one, then drains them).
tasker() {
  "$build/bench/bench_postgres" --url "$url" --one "$1" 2>&1 |
    sed -n 's/.* \([0-9.,]*\) steps\/s.*submit \([0-9.]*\) s.*/\1 \2/p' | tr -d ,
}

echo "| round | load | INSERT c1 tps | submit.sql c1 | tasker submits/s | step.sql c1 b1 | no transitions | step rows only | tasker c1 b1 | INSERT c8 tps | step.sql c4 b16 steps/s | no transitions | step rows only | tasker 4 x c16 b16 | latency.sql ms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in $(seq 1 "$rounds"); do
  "${psql[@]}" -v n=400000 -f "$here/fill.sql" >/dev/null
  load=$(cut -d' ' -f1 /proc/loadavg)
  i1=$(bench "$here/insert.sql" 1)
  u1=$(bench "$here/submit.sql" 1 steps=1 priority=0)
  s1=$(bench "$here/step.sql" 1 batch=1)
  n1=$(bench "$dir/step_no_transitions.sql" 1 batch=1)
  o1=$(bench "$dir/step_rows_only.sql" 1 batch=1)
  read -r t1 ts < <(tasker linear:1:2000:1:1:1) || true
  i8=$(bench "$here/insert.sql" 8)
  s8=$(bench "$here/step.sql" 4 batch=16)
  n8=$(bench "$dir/step_no_transitions.sql" 4 batch=16)
  o8=$(bench "$dir/step_rows_only.sql" 4 batch=16)
  read -r t8 _ < <(tasker linear:1:8000:4:16:16) || true
  if [ -z "$t1" ] || [ -z "$t8" ]; then
    echo "pg_floor.sh: a tasker drain (bench_postgres --one) failed" >&2
    exit 1
  fi
  l1=$(bench "$dir/latency.sql" 1)
  # Figures of scripts that found nothing to do would mean nothing: the fill
  # must outlast the drains, and every 4-step task must have completed.
  left=$("${psql[@]}" -Atc "SELECT count(*) FROM floor.tasker_steps WHERE state = 'enqueued' AND claimable_at <= 2")
  unfinished=$("${psql[@]}" -Atc "SELECT count(*) FROM floor.tasker_tasks WHERE total_steps = 4 AND state <> 'complete'")
  [ "$left" -gt 0 ] || { echo "pg_floor.sh: the drains used up the queue; raise n (400000) above" >&2; exit 1; }
  [ "$unfinished" -eq 0 ] || { echo "pg_floor.sh: $unfinished 4-step tasks did not complete" >&2; exit 1; }
  # Batched rows are transactions x 16 steps.
  awk -v r="$r" -v l="$load" -v i1="$i1" -v u1="$u1" -v ts="$ts" -v s1="$s1" -v n1="$n1" -v o1="$o1" -v t1="$t1" -v i8="$i8" -v s8="$s8" \
    -v n8="$n8" -v o8="$o8" -v t8="$t8" -v l1="$l1" 'BEGIN {
      printf "| r%s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s | %.0f | %.0f | %.0f | %.0f | %s | %.2f |\n",
        r, l, i1, u1, 2000 / ts, s1, n1, o1, t1, i8, s8 * 16, n8 * 16, o8 * 16, t8, 1000 / l1 }'
done
