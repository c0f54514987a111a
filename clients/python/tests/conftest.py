"""Fixtures: a real `tasker serve` and `tasker worker` on loopback over a SQLite
file, with the workflows of service/ (Python handlers run by the worker), and
the same server behind TLS and API keys."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))

import tasker  # noqa: E402


def tasker_bin() -> str:
    path = os.environ.get("TASKER_BIN") or str(HERE.parents[2] / "build" / "release" / "cli" / "tasker")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no tasker binary at {path}: build it (cmake --build --preset release) or set TASKER_BIN")
    return path


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["TASKER_ENV"] = "test"
    return env


class Service:
    """`tasker serve` (its URL from its first line) and `tasker worker` on one database."""

    def __init__(self, folder: pathlib.Path, env: dict[str, str], serve_args: list[str] = (), worker: bool = True):
        self.folder = folder
        self.db = f"sqlite://{folder / 'tasker.db'}"
        templates = str(folder / "templates")
        subprocess.run([tasker_bin(), "migrate", "--db", self.db], check=True, env=env, capture_output=True)
        self.serve = subprocess.Popen([tasker_bin(), "serve", "--db", self.db, "--templates", templates,
                                       "--listen", "127.0.0.1:0", *serve_args],
                                      stdout=subprocess.PIPE, stderr=open(folder / "serve.log", "w"), env=env, text=True)
        self.url = self.serve.stdout.readline().strip()
        if not self.url:
            self.stop()
            pytest.fail("tasker serve did not start: " + (folder / "serve.log").read_text())
        self.worker = None
        if worker:
            self.worker = subprocess.Popen([tasker_bin(), "worker", "--db", self.db, "--templates", templates,
                                            "--concurrency", "2"],
                                           stdout=subprocess.DEVNULL, stderr=open(folder / "worker.log", "w"),
                                           env=env)

    def stop(self) -> None:
        for p in (self.worker, self.serve):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def make_folder() -> pathlib.Path:
    folder = pathlib.Path(tempfile.mkdtemp(prefix="tasker-py-"))
    (folder / "templates").mkdir()
    for name in ("py_workflows.yaml", "handlers.py"):
        shutil.copy(HERE / "service" / name, folder / "templates" / name)
    return folder


@pytest.fixture(scope="session")
def service() -> Iterator[Service]:
    folder = make_folder()
    s = Service(folder, child_env())
    yield s
    s.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def client(service: Service) -> tasker.Client:
    return tasker.Client(service.url, timeout=30)


KEYS = {"admin": "admin-secret-token", "reader": "reader-secret-token"}


@pytest.fixture(scope="session")
def secure_service() -> Iterator[Service]:
    """The same server over HTTPS (a self-signed certificate for 127.0.0.1) with two API keys."""
    folder = make_folder()
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    digest = {name: hashlib.sha256(token.encode()).hexdigest() for name, token in KEYS.items()}
    env = child_env()
    env["TASKER_TLS_CERT"], env["TASKER_TLS_KEY"] = str(cert), str(key)
    env["TASKER_API_KEYS"] = f"admin:{digest['admin']}:*;reader:{digest['reader']}:tasks:read,tasks:list"
    s = Service(folder, env, worker=False)
    s.cert = str(cert)
    yield s
    s.stop()
    shutil.rmtree(folder, ignore_errors=True)


def run_id() -> str:
    """A value that makes a context unique: tasks with equal contexts share an identity (409 on the second)."""
    import uuid

    return str(uuid.uuid4())


def unique() -> dict:
    return {"run": run_id()}
