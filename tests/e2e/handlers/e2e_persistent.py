"""The e2e suite's handlers for the persistent kind: the logic of e2e_handlers.py
(the same as tests/e2e/handlers.cpp), served by the tasker package in persistent
processes (`python3 -m tasker.worker .../e2e_persistent.py`).

Each handler gets the attempt's input as e2e_handlers.py's functions expect it;
their requests (checkpoints, ancestors' results) go through the context, and
their failures become the package's PermanentError / RetryableError.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dynamic_handlers  # noqa: E402
import e2e_common  # noqa: E402
import e2e_handlers  # noqa: E402
from tasker import PermanentError, RetryableError, handler  # noqa: E402


def _asker(ctx):
    """dynamic_handlers.ask, answered through the attempt's context."""
    def ask(request):
        if "step_result" in request:
            try:
                return {"ok": True, "result": ctx.ancestor_result(request["step_result"])}
            except PermanentError as e:
                return {"ok": False, "permanent": True, "error": str(e)}
        if "save_checkpoint" in request:
            c = request["save_checkpoint"]
            return {"ok": True, "saved": ctx.save_checkpoint(c["cursor"], c["items_processed"],
                                                             c.get("accumulated_results"))}
        ctx.heartbeat()
        return {"ok": True}
    return ask


def _serve(name, logic):
    @handler(name)
    def run(ctx):
        dynamic_handlers.ask = _asker(ctx)
        try:
            return logic(ctx.input)
        except e2e_common.Permanent as e:
            raise PermanentError(str(e), e.context) from None
        except e2e_common.Retryable as e:
            raise RetryableError(str(e), context=e.context) from None


for _name, _logic in e2e_handlers.HANDLERS.items():
    _serve(_name, _logic)
