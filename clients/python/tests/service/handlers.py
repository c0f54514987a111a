"""The pytest suite's handlers (py_workflows.yaml), written as a user would."""
import os
import time

from tasker import Batchable, PermanentError, RetryableError, batches, decision, handler


@handler("py.square")
def square(ctx):
    return {"n": ctx.context["n"] ** 2, "from": sorted(ctx.dependency_results), "pid": os.getpid()}


@handler("py.add")
def add(ctx):
    return {"n": ctx.dependency_result("square")["n"] + ctx.initialization["k"], "pid": os.getpid()}


@handler("py.total")
def total(ctx):
    return {"n": sum(r["n"] for r in ctx.dependency_results.values()), "from": sorted(ctx.dependency_results),
            "pid": os.getpid()}


@handler("py.square_once")
def square_once(ctx):
    print("running once in", os.getpid())  # goes to stderr, not into the result
    return {"pid": os.getpid(), "attempt": ctx.attempt}


@handler("py.flaky")
def flaky(ctx):
    if ctx.attempt == 1:
        raise RetryableError("the gateway timed out", retry_after=0.05, context={"gateway": "test"})
    return {"attempt": ctx.attempt, "previous": ctx.previous_error.message if ctx.previous_error else None}


@handler("py.resumes")
def resumes(ctx):
    start = ctx.checkpoint.cursor if ctx.checkpoint else 0
    if ctx.attempt == 1:
        assert ctx.save_checkpoint(5, 5, {"sum": 15})
        ctx.heartbeat()
        raise RetryableError("interrupted after 5 items")
    return {"resumed_from": start, "sum_so_far": ctx.checkpoint.accumulated_results["sum"]}


@handler("py.grandchild")
def grandchild(ctx):
    return {"level": 2}


@handler("py.reads_ancestor")
def reads_ancestor(ctx):
    return {"flaky": ctx.ancestor_result("flaky")["attempt"], "parent": ctx.dependency_result("grandchild")}


@handler("py.declined")
def declined(ctx):
    raise PermanentError("card declined by the issuer", {"decline_code": "do_not_honor"})


@handler("py.broken")
def broken(ctx):
    return ctx.context["missing"]  # KeyError: retryable, named by its type


@handler("py.start")
def start(ctx):
    return {"amount": ctx.context["amount"]}


@handler("py.choose")
def choose(ctx):
    return decision(["large" if ctx.dependency_result("start")["amount"] > 100 else "small"], chosen_at=1)


@handler("py.branch")
def branch(ctx):
    return {"branch": ctx.step_name}


@handler("py.plan")
class Plan(Batchable):
    def call(self, ctx):
        return self.create_batches("sum_range", ctx.context["items"], 25)


@handler("py.sum_range")
def sum_range(ctx):
    c = ctx.batch
    return {"batch": c.batch_id, "sum": sum(range(c.start_cursor, c.end_cursor))}


@handler("py.combine")
def combine(ctx):
    parts = [r for name, r in ctx.dependency_results.items() if name.startswith("sum_range_")]
    return {"batches": len(parts), "sum": sum(p["sum"] for p in parts)}


@handler("py.wait")
def wait(ctx):
    time.sleep(ctx.context.get("seconds", 60))
    return {"waited": True}


# Unused by the templates: batches() as a plain function, for the helper tests.
PLAN = batches
