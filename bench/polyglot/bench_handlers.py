"""bench_polyglot's trivial handler (the same work as its C++ one: an empty result)."""
from tasker import handler


@handler("bench.noop")
def noop(ctx):
    return {}
