#!/usr/bin/env python3
"""What tasker's design costs SQLite for one 4-step task, with nothing of tasker
around it, beside tasker's own latency (docs/performance.md, "The floor").

    bench/floor/sqlite_floor.py BUILD_DIR [ROUNDS]

The floor writes exactly the rows a 4-step linear task costs, in the 6
transactions it costs (the submit, the first claim, one per step that records
it, enqueues the next and claims it), into tasker's own schema (`tasker
migrate`), from one connection with nothing between the transactions: no
handler, no thread hand-off, no JSON, no events. Each round runs it at
synchronous FULL and NORMAL and, between them, `bench_engine --latency`.
"""
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

TASKS = 100
WARM = 5


class Floor:
    def __init__(self, path, sync):
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={sync}")

    def tx(self, work):
        self.db.execute("BEGIN IMMEDIATE")
        work()
        self.db.execute("COMMIT")

    def transition(self, task, step, old, new, now):
        self.db.execute(
            "INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, attempt) "
            "VALUES (?, ?, ?, ?, ?, 'w', 1)", (task, step, old, new, now))

    def task(self, i):
        """Milliseconds from the submit's BEGIN to the last step's COMMIT."""
        now = int(time.time() * 1000)
        steps = []
        ex = self.db.execute

        def submit():
            task = ex("INSERT INTO tasker_tasks (uuid, namespace_name, name, version, state, context, tags, "
                      "bypassed_steps, total_steps, created_at, updated_at, identity_hash) "
                      "VALUES (?, 'bench', 'linear_4', '1.0.0', 'pending', ?, '[]', '[]', 4, ?, ?, ?)",
                      (str(uuid.uuid4()), '{"run": %d}' % i, now, now, str(uuid.uuid4()))).lastrowid
            for p in range(4):
                steps.append(ex(
                    "INSERT INTO tasker_steps (uuid, task_id, position, name, namespace_name, callable, "
                    "initialization, dependencies, state, priority, pending_parents, max_attempts, retryable, "
                    "backoff, backoff_base_ms, max_backoff_ms, timeout_seconds, claimable_at, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, 'bench', 'noop', '{}', '[]', ?, 0, ?, 3, 1, 'exponential', "
                    "1000, 30000, 30, ?, ?, ?)",
                    (str(uuid.uuid4()), task, p, f"s{p}", "enqueued" if p == 0 else "pending", min(p, 1),
                     now if p == 0 else None, now, now)).lastrowid)
            for p in range(3):
                ex("INSERT INTO tasker_step_edges (parent_id, child_id) VALUES (?, ?)", (steps[p], steps[p + 1]))
            self.transition(task, None, None, "pending", now)
            for p in range(4):
                self.transition(task, steps[p], None, "enqueued" if p == 0 else "pending", now)
            steps.insert(0, task)

        def claim(step, first):
            ex("SELECT id FROM tasker_steps WHERE state IN ('enqueued', 'waiting_for_retry') AND claimable_at <= ? "
               "ORDER BY priority DESC, claimable_at, id LIMIT 4", (now + 1,)).fetchall()
            ex("UPDATE tasker_steps SET state = 'in_progress', attempts = attempts + 1, claim_token = claim_token + 1, "
               "worker_id = 'w', lease_expires_at = ?, last_attempted_at = ?, updated_at = ? WHERE id = ?",
               (now + 30000, now, now, step))
            self.transition(steps[0], step, "enqueued", "in_progress", now)
            ex("UPDATE tasker_tasks SET state = 'in_progress', active_steps = active_steps + 1, updated_at = ? "
               "WHERE id = ?", (now, steps[0]))
            if first:
                self.transition(steps[0], None, "pending", "in_progress", now)

        def record(p):
            task, step, last = steps[0], steps[p + 1], p == 3
            ex("UPDATE tasker_steps SET state = 'complete', results = '{\"ok\": true}', completed_at = ?, "
               "updated_at = ?, lease_expires_at = NULL WHERE id = ? AND claim_token = 1", (now, now, step))
            self.transition(task, step, "in_progress", "complete", now)
            ex("UPDATE tasker_tasks SET completed_steps = completed_steps + 1, resolved_steps = resolved_steps + 1, "
               "active_steps = active_steps - 1, state = ?, updated_at = ? WHERE id = ?",
               ("complete" if last else "in_progress", now, task))
            if last:
                self.transition(task, None, "in_progress", "complete", now)
                return
            child = steps[p + 2]
            ex("UPDATE tasker_steps SET pending_parents = pending_parents - 1, state = 'enqueued', claimable_at = ?, "
               "updated_at = ? WHERE id = ?", (now, now, child))
            self.transition(task, child, "pending", "enqueued", now)
            claim(child, False)

        start = time.perf_counter()
        self.tx(submit)
        self.tx(lambda: claim(steps[1], True))
        for p in range(4):
            self.tx(lambda: record(p))
        return (time.perf_counter() - start) * 1000


def floor_median(build, folder, sync):
    path = os.path.join(folder, f"floor-{sync}.db")
    subprocess.run([os.path.join(build, "cli", "tasker"), "migrate"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "TASKER_DATABASE_URL": f"sqlite://{path}"})
    f = Floor(path, sync)
    ms = [f.task(i) for i in range(WARM + TASKS)][WARM:]
    f.db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return statistics.median(ms)


def tasker_medians(build):
    out = subprocess.run([os.path.join(build, "bench", "bench_engine"), "--latency"], check=True,
                         capture_output=True, text=True).stdout
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^\| (FULL|NORMAL) \| ([0-9.]+) \|", out, re.M)}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print("| round | load | floor FULL ms | tasker FULL ms | floor NORMAL ms | tasker NORMAL ms |")
    print("|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="tasker-floor-") as folder:
        for r in range(1, rounds + 1):
            load = open("/proc/loadavg").read().split()[0]
            full = floor_median(build, folder, "FULL")
            t = tasker_medians(build)
            normal = floor_median(build, folder, "NORMAL")
            print(f"| r{r} | {load} | {full:.2f} | {t['FULL']:.2f} | {normal:.2f} | {t['NORMAL']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
