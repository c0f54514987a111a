#!/usr/bin/env bash
# Where the CPU of a PostgreSQL drain goes: run `bench_postgres --one SPEC` and,
# while its worker processes live, sample every 50 ms the CPU time of those
# workers and of the server (the postmaster with its reaped children, and every
# live backend). Prints both per step of the drain. The server must serve
# nothing else meanwhile (docs/performance.md, "One round trip ...").
#   bench/pg_cpu.sh BUILD_DIR URL PGDATA SPEC...
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: bench/pg_cpu.sh BUILD_DIR URL PGDATA SPEC..." >&2; exit 2; }
build=$1 url=$2 pgdata=$3
shift 3
tck=$(getconf CLK_TCK)
postmaster=$(head -n1 "$pgdata/postmaster.pid")
# utime + stime of a process, with its reaped children's when asked.
ticks() {
  local f
  f=($(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null)) || { echo 0; return; }
  if [ -n "${2:-}" ]; then echo $((f[11] + f[12] + f[13] + f[14])); else echo $((f[11] + f[12])); fi
}
for spec in "$@"; do
  out=$(mktemp)
  "$build/bench/bench_postgres" --url "$url" --one "$spec" >"$out" 2>&1 &
  driver=$!
  first="" last=""
  while kill -0 $driver 2>/dev/null; do
    workers=$(pgrep -P $driver -x bench_pg_worker || true)
    if [ -n "$workers" ]; then
      w=0
      for p in $workers; do w=$((w + $(ticks "$p"))); done
      s=$(ticks "$postmaster" reaped)
      for p in $(pgrep -P "$postmaster"); do s=$((s + $(ticks "$p"))); done
      last="$(date +%s.%N) $w $s"
      [ -n "$first" ] || first=$last
    fi
    sleep 0.05
  done
  wait $driver || { cat "$out"; exit 1; }
  line=$(grep 'steps/s' "$out")
  rm -f "$out"
  echo "$line"
  steps=$(echo "$line" | sed -E 's/.*: ([0-9]+) steps in.*/\1/')
  # Workers' CPU is their own (they end with the drain); the server's is the difference.
  echo "$first $last" | awk -v tck="$tck" -v steps="$steps" '{
    printf "  CPU per step: workers %.0f us, server %.0f us (sampled over %.2f s)\n",
      $5 / tck / steps * 1e6, ($6 - $3) / tck / steps * 1e6, $4 - $1 }'
done
