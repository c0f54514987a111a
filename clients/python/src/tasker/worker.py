"""Serve handlers to a tasker worker: ``python3 -m tasker.worker MODULE...``.

Imports each MODULE (a module name, found from the working directory first, which
is the template's folder; or a path to a .py file), then:

- with TASKER_PERSISTENT_PROTOCOL set (``handler.persistent: true``), stays up and
  runs attempt after attempt over the persistent protocol on stdin/stdout;
- otherwise runs the one attempt the step input on stdin describes (TASKER_CALLABLE
  names its handler) and exits 0, 10 or 11 (docs/handlers.md).

In both modes stdout belongs to the protocol: print() and anything else written
to descriptor 1 goes to stderr, which the worker keeps with a failed attempt.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import os
import re
import sys
import traceback
from typing import Any, BinaryIO

from . import handlers as _handlers
from .errors import PermanentError, ProtocolError, RetryableError

PROTOCOL_VERSION = 1
USAGE = "usage: python3 -m tasker.worker MODULE... (modules whose @handler functions serve the steps)"

_TYPE_CHARS = re.compile(r"[^A-Za-z0-9_.:-]")


def _error_type(name: str | None) -> str | None:
    if not name:
        return None
    return _TYPE_CHARS.sub("_", name)[:100]


def _exception_type(e: BaseException) -> str:
    cls = type(e)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def run_attempt(callable_name: str, step_input: dict[str, Any], channel: _handlers.Channel | None) -> dict[str, Any]:
    """Run one attempt; its outcome as the persistent protocol's message body (without type and id):
    {"result": R} (with "result_json", R as JSON text), or {"retryable", "message", "context",
    "retry_after_ms"?, "error_type"?}."""
    ctx = _handlers.Context(step_input, callable_name, channel)
    try:
        result = _handlers.resolve(callable_name)(ctx)
        try:
            text = _dumps(result)
        except (TypeError, ValueError) as e:
            raise PermanentError(f"the handler of `{callable_name}` returned a result that is not JSON: {e}",
                                 error_type="invalid_result") from e
        return {"result": result, "result_json": text}
    except PermanentError as e:
        return _failure(False, e.message, e.context, e.error_type)
    except RetryableError as e:
        out = _failure(True, e.message, e.context, e.error_type)
        if e.retry_after_ms is not None:
            out["retry_after_ms"] = e.retry_after_ms
        return out
    except ProtocolError:
        raise
    except Exception as e:  # any other exception is retryable, as in C++; its traceback goes to stderr
        traceback.print_exc()
        return _failure(True, f"{_exception_type(e)}: {e}" if str(e) else _exception_type(e),
                        {"exception": _exception_type(e)}, _exception_type(e))


def _failure(retryable: bool, message: str, context: dict[str, Any], error_type: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"retryable": retryable, "message": str(message),
                           "context": json.loads(json.dumps(context, default=repr))}
    if _error_type(error_type):
        out["error_type"] = _error_type(error_type)
    return out


class PersistentChannel:
    """Requests of the attempt in flight, multiplexed on the protocol's stdin and stdout."""

    def __init__(self, reader: BinaryIO, out_fd: int):
        self._reader = reader
        self._out = out_fd
        self.attempt_id = 0
        self._next_request = 0

    def send(self, message: dict[str, Any]) -> None:
        self.send_line(_dumps(message))

    def send_line(self, line: str) -> None:
        sys.stderr.flush()  # what the attempt logged reaches the worker before its answer
        _write_all(self._out, (line + "\n").encode())

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self._next_request += 1
        self.send({"type": "request", "id": self.attempt_id, "request_id": self._next_request, "request": request})
        line = self._reader.readline()
        if not line:
            raise ProtocolError("the worker closed the channel while a request waited for its reply")
        reply = json.loads(line)
        if reply.get("type") != "reply" or reply.get("request_id") != self._next_request:
            raise ProtocolError(f"expected the reply to request {self._next_request}, got {line[:200]!r}")
        return reply["reply"]


def serve_persistent(reader: BinaryIO, out_fd: int) -> int:
    """Answer attempts until stdin closes (exit 0)."""
    channel = PersistentChannel(reader, out_fd)
    channel.send({"type": "ready", "protocol": PROTOCOL_VERSION})
    for line in iter(reader.readline, b""):
        message = json.loads(line)
        if message.get("type") != "attempt":
            raise ProtocolError(f"expected an attempt, got {line[:200]!r}")
        channel.attempt_id = int(message["id"])
        outcome = run_attempt(message["callable"], message["input"], channel)
        if "result_json" in outcome:  # the result was serialised once already, to check it
            channel.send_line(f'{{"type":"result","id":{channel.attempt_id},"result":{outcome["result_json"]}}}')
        else:
            channel.send({"type": "failure", "id": channel.attempt_id, **outcome})
    return 0


class DescriptorChannel:
    """A per-attempt command's request channel: TASKER_REQUEST_FD out, TASKER_REPLY_FD in."""

    def __init__(self) -> None:
        self._files: tuple[Any, Any] | None = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._files is None:
            try:
                self._files = (os.fdopen(int(os.environ["TASKER_REQUEST_FD"]), "w", buffering=1),
                               os.fdopen(int(os.environ["TASKER_REPLY_FD"]), "r"))
            except (KeyError, ValueError, OSError) as e:
                raise RuntimeError(f"no request channel to the worker ({e}): run under `tasker worker`") from e
        self._files[0].write(_dumps(request) + "\n")
        line = self._files[1].readline()
        if not line:
            raise ProtocolError("the worker closed the request channel")
        return json.loads(line)


def serve_one(stdin: BinaryIO, out_fd: int) -> int:
    """Run the attempt on stdin; exit 0 (result), 10 (permanent) or 11 (retryable)."""
    step_input = json.load(stdin)
    name = os.environ.get("TASKER_CALLABLE") or ""
    if not name:
        known = sorted(_handlers.registered())
        if len(known) != 1:
            print(f"tasker.worker: TASKER_CALLABLE is not set, so the handler to run is unknown "
                  f"(registered: {', '.join(known) or 'none'}); run it under `tasker worker`", file=sys.stderr)
            return 2
        name = known[0]
    outcome = run_attempt(name, step_input, DescriptorChannel())
    if "result_json" in outcome:
        _write_all(out_fd, (outcome["result_json"] + "\n").encode())
        return 0
    doc = {k: outcome[k] for k in ("message", "context", "retry_after_ms") if k in outcome}
    _write_all(out_fd, (_dumps(doc) + "\n").encode())
    return 11 if outcome["retryable"] else 10


def import_modules(names: list[str]) -> None:
    """Import each module by name (the working directory first) or by the path of its .py file."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for name in names:
        if name.endswith(".py") or os.sep in name:
            spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(name))[0], name)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load handlers from {name}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            importlib.import_module(name)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 0 if args else 2
    # Descriptor 1 carries only the protocol: keep it, and send everything else written there to stderr.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import_modules(args)
    if not _handlers.registered():
        print(f"tasker.worker: {', '.join(args)} registered no handler; decorate functions with "
              f"@tasker.handler(\"ns.callable\")", file=sys.stderr)
        return 2
    version = os.environ.get("TASKER_PERSISTENT_PROTOCOL")
    if version:
        if version != str(PROTOCOL_VERSION):
            print(f"tasker.worker: the worker speaks persistent protocol {version}, this package "
                  f"{PROTOCOL_VERSION}; upgrade one of them", file=sys.stderr)
            return 2
        # What the imports built lives as long as the process: keep the cyclic collector from walking it
        # again at every collection (its walks were a few percent of a trivial attempt's time).
        gc.freeze()
        return serve_persistent(sys.stdin.buffer, out_fd)
    return serve_one(sys.stdin.buffer, out_fd)


if __name__ == "__main__":
    sys.exit(main())
