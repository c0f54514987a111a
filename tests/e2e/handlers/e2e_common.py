"""What the e2e suite's command handlers share: failures, and marker files."""
import os


class Permanent(Exception):
    def __init__(self, message, context=None):
        super().__init__(message)
        self.context = context or {}


class Retryable(Exception):
    def __init__(self, message, context=None):
        super().__init__(message)
        self.context = context or {}


def marker(step, what):
    base = os.environ.get("TASKER_E2E_MARKER_DIR") or "/tmp"
    return os.path.join(base, f"{step['task_uuid']}-{step['step_name']}-{what}")


def touch(path):
    with open(path, "w") as f:
        f.write("1")
