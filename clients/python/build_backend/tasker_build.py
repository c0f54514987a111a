"""A PEP 517 / PEP 660 build backend for this package, standard library only.

Builds a pure-Python wheel of src/tasker (and an sdist, and an editable wheel
that points at src/), with the metadata of pyproject.toml's [project] table.
It knows this package's layout and nothing more.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "tasker"
EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed times: the same sources give the same wheel


def _project() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _dist_name(project: dict) -> str:
    return project["name"].replace("-", "_")


def _metadata(project: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}",
             f"Summary: {project.get('description', '')}", f"Requires-Python: {project.get('requires-python', '')}"]
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    readme = project.get("readme")
    body = ""
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


def _sources() -> list[tuple[str, str]]:
    """(path in the wheel, path on disk) of every file of the package."""
    base = os.path.join(ROOT, "src")
    out = []
    for folder, dirs, files in os.walk(os.path.join(base, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".typed")):
                disk = os.path.join(folder, name)
                out.append((os.path.relpath(disk, base).replace(os.sep, "/"), disk))
    return out


def _wheel(wheel_directory: str, files: list[tuple[str, bytes]]) -> str:
    project = _project()
    dist = f"{_dist_name(project)}-{project['version']}"
    info = f"{dist}.dist-info"
    files = files + [(f"{info}/METADATA", _metadata(project).encode()),
                     (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: tasker_build\nRoot-Is-Purelib: true\n"
                                       b"Tag: py3-none-any\n")]
    record = []
    for path, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    name = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files:
            wheel.writestr(zipfile.ZipInfo(path, EPOCH), data)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for path, disk in _sources():
        with open(disk, "rb") as f:
            files.append((path, f.read()))
    return _wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, [(f"_{PACKAGE}_editable.pth", (os.path.join(ROOT, "src") + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    base = f"{_dist_name(project)}-{project['version']}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as sdist:
        def add(path: str, data: bytes) -> None:
            entry = tarfile.TarInfo(f"{base}/{path}")
            entry.size = len(data)
            sdist.addfile(entry, io.BytesIO(data))

        add("PKG-INFO", _metadata(project).encode())
        for rel in ["pyproject.toml", "README.md", "build_backend/tasker_build.py"]:
            with open(os.path.join(ROOT, rel), "rb") as f:
                add(rel, f.read())
        for path, disk in _sources():
            with open(disk, "rb") as f:
                add("src/" + path, f.read())
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []
