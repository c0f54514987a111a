#!/usr/bin/env python3
"""Run the CLI transcripts in the documentation and compare what they print.

Every ```console block of README.md and docs/*.md is a transcript: lines starting with `$ ` are
commands, the lines after each are what it prints (stdout and stderr together). Each document runs
in a fresh folder of its own, with the built `tasker` first on PATH and an SQLite database there,
so a transcript shows what a new user sees. The files a transcript reads are the blocks the
document marks with an HTML comment (invisible when rendered):

    <!-- file: order.yaml -->        the fenced block right after it is written to order.yaml
    <!-- file: empty.yaml
    -->                              a file with the comment's remaining lines as its content
    <!-- cwd: versions -->           the next transcript runs in that folder (of the document's)

Expected output is compared line by line; a line `...` stands for any number of lines, and uuids
and ISO times compare equal to any uuid or time. Exit 0 when every transcript prints what its
document says, 1 with a diff per difference.

    transcripts.py --tasker build/release/cli/tasker [DOC.md ...]
"""
import argparse
import difflib
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
FILE_MARK = re.compile(r"^<!-- file: (\S+)(.*)$")
CWD_MARK = re.compile(r"^<!-- cwd: (\S+) -->$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def normalise(line):
    return TIME.sub("<time>", UUID.sub("<uuid>", line.rstrip()))


def matches(expected, actual):
    """Whether `actual` lines match `expected` lines, where a `...` line matches any run of lines."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and normalise(expected[0]) == normalise(actual[0]) and matches(expected[1:], actual[1:])


def parse(text):
    """The document's steps in order: ("file", name, content) and ("console", (lineno, cwd), lines)."""
    lines = text.split("\n")
    steps = []
    i = 0
    pending_file = None
    cwd = "."
    while i < len(lines):
        line = lines[i]
        if CWD_MARK.match(line):
            cwd = CWD_MARK.match(line).group(1)
            i += 1
            continue
        mark = FILE_MARK.match(line)
        if mark:
            name, rest = mark.group(1), mark.group(2).strip()
            if rest == "-->":
                pending_file = name
            else:  # the comment holds the content, up to a line `-->`
                end = lines.index("-->", i + 1)
                steps.append(("file", name, "\n".join(lines[i + 1:end]) + ("\n" if end > i + 1 else "")))
                i = end
            i += 1
            continue
        if line.startswith("```"):
            lang = line[3:].strip()
            end = lines.index("```", i + 1)
            body = lines[i + 1:end]
            if pending_file:
                steps.append(("file", pending_file, "\n".join(body) + "\n"))
                pending_file = None
            elif lang == "console":
                steps.append(("console", (i + 1, cwd), body))
                cwd = "."
            i = end + 1
            continue
        i += 1
    return steps


def commands(block):
    """(command, expected lines) pairs of a console block."""
    out = []
    for line in block:
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"output before the first command: {line!r}")
    return out


def run_document(doc, tasker):
    failures = []
    steps = parse(doc.read_text())
    if not any(kind == "console" for kind, *_ in steps):
        return failures, 0
    count = 0
    with tempfile.TemporaryDirectory(prefix="tasker-docs-") as work:
        env = dict(os.environ)
        env["PATH"] = f"{pathlib.Path(tasker).resolve().parent}{os.pathsep}{env.get('PATH', '')}"
        env["TASKER_DATABASE_URL"] = f"sqlite://{work}/tasker.db"
        for key in ("TASKER_ENV", "TASKER_TEMPLATE_PATH", "DATABASE_URL", "TASKER_CONFIG"):
            env.pop(key, None)
        for kind, where, content in steps:
            if kind == "file":
                path = pathlib.Path(work, where)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
                continue
            lineno, cwd = where
            for command, expected in commands(content):
                count += 1
                result = subprocess.run(["sh", "-c", command], cwd=pathlib.Path(work, cwd), env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, timeout=120)
                actual = result.stdout.rstrip("\n").split("\n") if result.stdout.strip() else []
                while expected and not expected[-1].strip():
                    expected = expected[:-1]
                if not matches(expected, actual):
                    diff = "\n".join(difflib.unified_diff(expected, actual, "documented", "printed", lineterm=""))
                    failures.append(f"{doc.relative_to(ROOT)}:{lineno}: $ {command}\n{diff}")
    return failures, count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasker", required=True, help="the tasker binary to run the transcripts with")
    parser.add_argument("docs", nargs="*", help="documents (default: README.md and docs/*.md)")
    args = parser.parse_args()
    docs = [pathlib.Path(d).resolve() for d in args.docs] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    failures, total = [], 0
    for doc in docs:
        f, n = run_document(doc, args.tasker)
        failures += f
        total += n
    for f in failures:
        print(f, end="\n\n")
    print(f"{total - len(failures)} of {total} documented commands print what their documents say")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
