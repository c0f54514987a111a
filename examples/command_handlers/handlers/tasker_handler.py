"""tasker's command-handler protocol for Python (docs/handlers.md), in one small module.

A handler script defines a function of the step input and calls `run(fn)`:

    from tasker_handler import run, PermanentError, RetryableError

    def handle(step):          # step: the JSON document tasker wrote on stdin
        return {"ok": True}    # the step's result, printed as JSON on stdout

    run(handle)

Raise PermanentError to fail the step without retry (exit 10), RetryableError
to have it retried per the template's policy (exit 11). Any other exception
is a crash: Python prints the traceback on stderr (tasker keeps its end in the
step's error) and exits 1, and the step is retried like a retryable failure.
Logs go to stderr: stdout is for the result only.
"""
import json
import sys

EXIT_PERMANENT = 10
EXIT_RETRYABLE = 11


class PermanentError(Exception):
    """The step failed and must not be retried (bad input, card declined, ...)."""

    def __init__(self, message, context=None):
        super().__init__(message)
        self.context = context or {}


class RetryableError(Exception):
    """The step failed transiently; `retry_after_ms` overrides the template's backoff."""

    def __init__(self, message, retry_after_ms=None, context=None):
        super().__init__(message)
        self.retry_after_ms = retry_after_ms
        self.context = context or {}


def log(message):
    print(message, file=sys.stderr, flush=True)


def dependency(step, name):
    """The result of the dependency `name`; a PermanentError when the step has no such dependency."""
    results = step["dependency_results"]
    if name not in results:
        raise PermanentError(f"step `{step['step_name']}` has no dependency `{name}`", {"missing_dependency": name})
    return results[name]


def run(handler):
    step = json.load(sys.stdin)
    try:
        result = handler(step)
    except PermanentError as e:
        json.dump({"message": str(e), "context": e.context}, sys.stdout)
        sys.exit(EXIT_PERMANENT)
    except RetryableError as e:
        failure = {"message": str(e), "context": e.context}
        if e.retry_after_ms is not None:
            failure["retry_after_ms"] = e.retry_after_ms
        json.dump(failure, sys.stdout)
        sys.exit(EXIT_RETRYABLE)
    json.dump(result, sys.stdout)
    sys.exit(0)
