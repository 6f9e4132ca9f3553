"""A change in a callee re-judges the callers whose data-flow facts it changes, in a
real git repository: under `--diff` the caller in another file is judged and reported
although its text did not change, and the verdict cache misses for it; an unrelated
change leaves the caller alone and the cache hits."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from vulnsight.llm.fake import FakeBackend
from vulnsight.llm.prompt import Prompt
from vulnsight.review.config_file import ProjectConfig
from vulnsight.review.workflow import ReviewOptions, review_scan
from vulnsight.types import Report

HELPERS = """import sqlite3


def db():
    return sqlite3.connect("app.db")


def load_user(name):
    name = int(name)
    cur = db().cursor()
    cur.execute("SELECT * FROM users WHERE id = %s" % name)
    return cur.fetchone()


def unrelated(a, b):
    return a + b
"""
VIEWS = """from flask import Flask, request

from helpers import load_user

app = Flask(__name__)


@app.route("/user")
def user():
    name = request.args.get("name")
    return load_user(name)


def other(a):
    return a * 2
"""
TARGET = re.compile(r"^\d+\| (?:@.*\n\d+\| )?def (\w+)\(", re.MULTILINE)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)


def responder(prompt: Prompt) -> dict[str, object]:
    """Flags the route handler `user` (CWE-89 on its call line), nothing else."""
    found = TARGET.search(prompt.body.split("<code", 1)[1])
    if found and found.group(1) == "user":
        return {"vulnerability": True, "type": "CWE-89", "line_number": 11, "confidence": 0.9}
    return {"vulnerability": False, "type": "none", "line_number": 0, "confidence": 0.9}


def judged(backend: FakeBackend) -> list[str]:
    """The target function of every prompt the model saw, in order."""
    names = []
    for prompt in backend.seen:
        found = TARGET.search(prompt.body.split("<code", 1)[1])
        names.append(found.group(1) if found else "<toplevel>")
    return names


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "dev")
    (repo / "helpers.py").write_text(HELPERS)
    (repo / "views.py").write_text(VIEWS)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    return repo


def scan(repo: Path, diff: str | None) -> tuple[Report, FakeBackend]:
    project = ProjectConfig(root=repo)
    config = project.scan_config({"detectors": ("llm", "flow"), "gate": "off"})
    backend = FakeBackend(responder=responder)
    report = review_scan([repo], project, config, ReviewOptions(diff_ref=diff), backend)
    return report, backend


def found(report: Report) -> list[tuple[str, int, str, tuple[str, ...]]]:
    return sorted((f.file, f.line_number, f.cwe, f.detectors) for f in report.findings)


def test_removing_a_sanitiser_in_a_helper_rejudges_its_caller_in_another_file(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    first, backend = scan(repo, None)
    assert "user" in judged(backend) and "load_user" in judged(backend)
    assert first.stats["cache_hits"] == 0
    assert ("views.py", 11, "CWE-89", ("llm",)) in found(first)
    assert not [f for f in first.findings if f.detector == "flow"]  # int() sanitises

    (repo / "helpers.py").write_text(HELPERS.replace("    name = int(name)\n", ""))
    report, backend = scan(repo, "HEAD")
    # the helper changed; its caller in views.py did not, but its facts did
    assert sorted(judged(backend)) == ["load_user", "user"]
    assert report.stats["changed_functions"] == 1
    assert report.stats["facts_changed_functions"] == 1
    assert (report.stats["cache_hits"], report.stats["cache_misses"]) == (0, 2)
    assert found(report) == [
        ("helpers.py", 10, "CWE-89", ("flow",)),
        ("views.py", 11, "CWE-89", ("llm",)),
    ]
    flow = next(f for f in report.findings if f.detector == "flow")
    assert [(s.file, s.line, s.function, s.description) for s in flow.path] == [
        (
            "views.py",
            10,
            "user",
            "source: request.args (HTTP request data (Flask/Django/FastAPI/Pyramid request))",
        ),
        ("views.py", 10, "user", "assigned to name"),
        ("views.py", 11, "user", "passed to load_user() as name"),
        ("helpers.py", 8, "load_user", "parameter name"),
        ("helpers.py", 10, "load_user", "sink: cur.execute() (SQL query, CWE-89)"),
    ]

    # the diff scan cached both new verdicts: a full rescan asks nothing
    again, backend = scan(repo, None)
    assert judged(backend) == []
    assert again.stats["cache_misses"] == 0


def test_a_full_rescan_misses_for_the_caller_whose_facts_a_helper_changed(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    first, _ = scan(repo, None)
    total = int(first.stats["cache_misses"])
    (repo / "helpers.py").write_text(HELPERS.replace("    name = int(name)\n", ""))
    again, backend = scan(repo, None)
    # `user`'s text is unchanged: it misses because what flows through it changed
    assert sorted(judged(backend)) == ["load_user", "user"]
    assert (again.stats["cache_hits"], again.stats["cache_misses"]) == (total - 2, 2)


def test_an_unrelated_change_leaves_the_caller_cached_and_unjudged(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    first, _ = scan(repo, None)
    total = int(first.stats["cache_misses"])

    (repo / "helpers.py").write_text(HELPERS.replace("return a + b", "return a - b"))
    report, backend = scan(repo, "HEAD")
    assert judged(backend) == ["unrelated"]
    assert report.stats["facts_changed_functions"] == 0
    assert found(report) == []

    # every key, the caller's included, is one the scans before stored
    again, backend = scan(repo, None)
    assert judged(backend) == []
    assert (again.stats["cache_hits"], again.stats["cache_misses"]) == (total, 0)


def test_facts_in_prompt_shows_the_block_and_keys_the_cache_apart(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "helpers.py").write_text(HELPERS.replace("    name = int(name)\n", ""))
    project = ProjectConfig(root=repo)
    shown = project.scan_config({"detectors": ("llm", "flow"), "gate": "off", "prompt_facts": True})
    backend = FakeBackend(responder=responder)
    report = review_scan([repo], project, shown, ReviewOptions(), backend)
    bodies = {name: p.body for name, p in zip(judged(backend), backend.seen, strict=True)}
    assert bodies["user"].startswith(
        "<facts>\ndata flow found by static analysis (may be incomplete):\n"
        "- HTTP request data (Flask/Django/FastAPI/Pyramid request) reaches SQL query (CWE-89)"
        " at helpers.py:10 in load_user (via user -> helpers.py:load_user)\n</facts>\n"
    )
    assert "<facts>" not in bodies["other"]  # nothing flows through it: the plain prompt
    # the same tree without facts in the prompt: the functions with facts miss, the rest hit
    plain, backend = scan(repo, None)
    assert sorted(judged(backend)) == ["load_user", "user"]
    assert plain.stats["cache_hits"] == report.stats["cache_misses"] - 2
