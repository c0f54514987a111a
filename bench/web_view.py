#!/usr/bin/python3
"""The web view at scale (docs/performance.md, "The web view"): measured, never asserted.

1. The server. For DAGs of 250 to 3,000 steps in three shapes (a chain; a fan-out/in: one
   root, n-2 middle steps, one sink; layered: layers of 100, each step with 3 parents in the
   layer before, fixed seed: the shapes of bench/template_load.cpp), `tasker serve` draws the
   template's graph (GET /v1/templates/.../graph): the time Graphviz spends laying it out and
   drawing it (the answer's Server-Timing header), the request's wall time, and the SVG's size,
   raw and gzipped (cpp-httplib compresses answers for browsers that accept gzip). Then a
   2,000-step layered task: its graph and GET /v1/tasks/UUID, which the page polls.
2. The browser. Headless Chromium opens that task's page: when the steps table and the graph
   are there (from navigation start), how many DOM elements the page holds, and what each
   refresh costs over --refreshes of them: fetching the task ("tasker:fetch") and the script's
   work on the answer ("tasker:render", main thread), as task.js measures them.

    bench/web_view.py --tasker build/release/cli/tasker [--quick] [--reps N] [--refreshes N]
"""
import argparse
import gzip
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

SIZES = [250, 500, 1000, 2000, 3000]
SHAPES = ["chain", "fan", "layered"]
LAYER, PARENTS = 100, 3


def dependencies(shape, n):
    deps = [[] for _ in range(n)]
    if shape == "chain":
        for i in range(1, n):
            deps[i] = [i - 1]
    elif shape == "fan":
        for i in range(1, n - 1):
            deps[i] = [0]
        deps[n - 1] = list(range(1, n - 1))
    else:
        rng = random.Random(42)
        for i in range(LAYER, n):
            start = (i // LAYER) * LAYER
            deps[i] = rng.sample(range(start - LAYER, start), PARENTS)
    return deps


def template(shape, n):
    deps = dependencies(shape, n)
    lines = [f"name: {shape}_{n}", "namespace_name: web_bench", "version: 1.0.0", "steps:"]
    for i in range(n):
        lines += [f"  - name: step_{i:06}", "    handler: {callable: bench.noop}",
                  "    retry: {retryable: true, max_attempts: 3, backoff: exponential, backoff_base_ms: 1000, "
                  "max_backoff_ms: 30000}",
                  "    dependencies: [" + ", ".join(f"step_{d:06}" for d in deps[i]) + "]"]
    return "\n".join(lines) + "\n", sum(len(d) for d in deps)


def get(url):
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:
        body = r.read()
        timing = r.headers.get("Server-Timing", "")
    wall = (time.perf_counter() - start) * 1000
    parts = dict(p.strip().split(";dur=") for p in timing.split(",")) if timing else {}
    return body, wall, float(parts.get("layout", 0)), float(parts.get("render", 0))


def median_of(reps, fn):
    results = [fn() for _ in range(reps)]
    return [statistics.median(r[i] for r in results) for i in range(1, 4)], results[0][0]


def browser_figures(url, refreshes, folder):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "web"))
    from chromium import chromium  # how the browser test starts it
    browser = chromium(folder, height=1000)
    try:
        browser.get(url)
        measures = "return performance.getEntriesByType('measure').filter(m => m.name === arguments[0])" \
                   ".map(m => [m.startTime, m.duration])"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not browser.execute_script(measures, "tasker:graph"):
            time.sleep(0.2)
        graph = browser.execute_script(measures, "tasker:graph")[0]
        while time.monotonic() < deadline and len(browser.execute_script(measures, "tasker:render")) < refreshes + 1:
            time.sleep(0.5)
        fetches = [d for _, d in browser.execute_script(measures, "tasker:fetch")]
        renders = [d for _, d in browser.execute_script(measures, "tasker:render")]
        first_render = browser.execute_script(measures, "tasker:render")[0]
        return {
            "nodes": browser.execute_script("return document.querySelectorAll('#graph g.node').length"),
            "rows": browser.execute_script("return document.querySelectorAll('#steps tbody tr').length"),
            "elements": browser.execute_script("return document.getElementsByTagName('*').length"),
            "heap_mb": browser.execute_script("return performance.memory.usedJSHeapSize") / 2 ** 20,
            "table_at": first_render[0] + first_render[1],
            "first_render": first_render[1],
            "graph_at": graph[0] + graph[1],
            "graph_fetch": graph[1],
            "fetch": (statistics.median(fetches[1:]), max(fetches[1:])),
            "render": (statistics.median(renders[1:]), max(renders[1:])),
            "refreshes": len(renders) - 1,
        }
    finally:
        browser.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasker", required=True, help="the tasker binary (build/release/cli/tasker)")
    parser.add_argument("--quick", action="store_true", help="250 to 1,000 steps, one repetition")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per drawing (median)")
    parser.add_argument("--refreshes", type=int, default=10, help="page refreshes to time in the browser")
    args = parser.parse_args()
    sizes = SIZES[:3] if args.quick else SIZES
    reps = 1 if args.quick else args.reps
    big = sizes[-1] if args.quick else 2000

    folder = tempfile.mkdtemp(prefix="tasker-web-bench-")
    edges = {}
    for shape in SHAPES:
        for n in sizes:
            text, edges[(shape, n)] = template(shape, n)
            with open(os.path.join(folder, f"{shape}_{n}.yaml"), "w") as f:
                f.write(text)
    server = subprocess.Popen([args.tasker, "serve", "--db", "sqlite://" + os.path.join(folder, "bench.db"),
                               "--templates", folder, "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().strip()
        print(f"graph of a template: median of {reps}; ms; SVG in KiB")
        print(f"{'shape':<10}{'steps':>7}{'edges':>7}{'layout':>10}{'render':>9}{'request':>10}"
              f"{'SVG':>9}{'gzip':>8}{'B/step':>8}")
        for shape in SHAPES:
            for n in sizes:
                (wall, layout, render), svg = median_of(
                    reps, lambda: get(f"{url}/v1/templates/web_bench/{shape}_{n}/1.0.0/graph"))
                print(f"{shape:<10}{n:>7}{edges[(shape, n)]:>7}{layout:>10.1f}{render:>9.1f}{wall:>10.1f}"
                      f"{len(svg) / 1024:>9.0f}{len(gzip.compress(svg)) / 1024:>8.0f}{len(svg) / n:>8.0f}")
        request = urllib.request.Request(url + "/v1/tasks", method="POST", headers={"Content-Type": "application/json"},
                                         data=json.dumps({"namespace": "web_bench", "name": f"layered_{big}"}).encode())
        with urllib.request.urlopen(request, timeout=600) as r:
            uuid = json.load(r)["task_uuid"]
        (wall, layout, render), svg = median_of(reps, lambda: get(f"{url}/v1/tasks/{uuid}/graph"))
        print(f"\na {big}-step layered task: its graph {wall:.1f} ms ({layout:.1f} layout, {render:.1f} render), "
              f"{len(svg) / 1024:.0f} KiB")
        (wall, _, _), body = median_of(reps, lambda: get(f"{url}/v1/tasks/{uuid}"))
        print(f"GET /v1/tasks/UUID (what the page polls): {wall:.1f} ms, {len(body) / 1024:.0f} KiB, "
              f"{len(gzip.compress(body)) / 1024:.0f} KiB gzipped")

        b = browser_figures(f"{url}/tasks/{uuid}", args.refreshes, folder)
        print(f"\nthe task's page in headless Chromium ({b['nodes']} nodes, {b['rows']} rows, "
              f"{b['elements']} elements, {b['heap_mb']:.0f} MiB JS heap):")
        print(f"  steps table filled {b['table_at']:.0f} ms after navigation (first render {b['first_render']:.0f} ms)")
        print(f"  graph drawn {b['graph_at']:.0f} ms after navigation (fetching and placing the SVG "
              f"{b['graph_fetch']:.0f} ms)")
        print(f"  each refresh over {b['refreshes']}: fetch median {b['fetch'][0]:.0f} ms (max {b['fetch'][1]:.0f}), "
              f"render median {b['render'][0]:.1f} ms (max {b['render'][1]:.1f})")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
