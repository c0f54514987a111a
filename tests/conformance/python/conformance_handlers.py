"""The conformance callables (docs/handlers.md, "The conformance suite") written
with the tasker package, served by `python3 -m tasker.worker conformance_handlers`.

The misbehaving ones (garbage, twice) reach into the worker's private channel on
purpose: a handler written with the package cannot break the protocol otherwise.
"""
import json
import os
import signal
import sys
import time

from tasker import PermanentError, RetryableError, handler


@handler("conformance.echo")
def echo(ctx):
    return {"input": ctx.input, "callable": ctx.callable, "pid": os.getpid()}


@handler("conformance.permanent")
def permanent(ctx):
    raise PermanentError("permanent failure", {"n": ctx.context.get("n")})


@handler("conformance.retryable")
def retryable(ctx):
    raise RetryableError("try later", retry_after=1.5)


@handler("conformance.checkpoint")
def checkpoint(ctx):
    return {"saved": ctx.save_checkpoint(10, 10, {"sum": 55})}


@handler("conformance.ancestor")
def ancestor(ctx):
    return ctx.ancestor_result("root")


@handler("conformance.heartbeat")
def heartbeat(ctx):
    ctx.heartbeat()
    ctx.heartbeat()
    return {"ok": True}


@handler("conformance.stderr")
def stderr(ctx):
    print(f"conformance stderr {ctx.attempt}", file=sys.stderr)
    raise RetryableError("see stderr")


@handler("conformance.garbage")
def garbage(ctx):
    os.write(ctx._channel._out, b"this is not JSON\n")
    time.sleep(3600)


@handler("conformance.silent")
def silent(ctx):
    if "pid_file" in ctx.context:
        with open(ctx.context["pid_file"] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(ctx.context["pid_file"] + ".tmp", ctx.context["pid_file"])
    time.sleep(3600)


@handler("conformance.twice")
def twice(ctx):
    answer = {"type": "result", "id": ctx._channel.attempt_id, "result": {"answer": 1}}
    line = json.dumps(answer) + "\n"
    os.write(ctx._channel._out, (line + line.replace('"answer": 1', '"answer": 2')).encode())
    time.sleep(3600)


@handler("conformance.crash")
def crash(ctx):
    os.kill(os.getpid(), signal.SIGKILL)


@handler("conformance.big")
def big(ctx):
    return "x" * int(ctx.context["bytes"])
