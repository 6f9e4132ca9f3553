"""`--diff` follows a change up (and down) chains of calls across files it did not parse
at first: A in a.py calls B in b.py calls C in c.py; only c.py changes, so that C now
passes its parameter to a sink. B's summary changes, so A's facts change too: A is
judged again and the flow finding carries the whole path A -> B -> C -> sink. Real git
repositories; the CLI as a subprocess with the scripted `fake` model (it flags every
function it judges, so the model's findings name the judged functions); in-process
scans with a recording fake where the exact judged functions are asserted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from vulnsight.llm.fake import FakeBackend
from vulnsight.review.config_file import ProjectConfig
from vulnsight.review.workflow import ReviewOptions, review_scan
from vulnsight.types import Report

from ..conftest import ROOT

PY = {
    "a.py": """from flask import Flask, request

from b import middle

app = Flask(__name__)


@app.route("/run")
def handler():
    cmd = request.args.get("cmd")
    return middle(cmd)
""",
    "b.py": """from c import leaf


def middle(value):
    line = "echo " + value
    return leaf(line)
""",
    "c.py": """import os


def leaf(command):
    return len(command)
""",
    "d.py": """def unrelated(x):
    return x + 1
""",
}
PY_SINK = ("    return len(command)\n", "    os.system(command)\n    return 0\n")
PY_PATH = [
    ("a.py", 10, "source: request.args (HTTP request data (Flask/Django/FastAPI/Pyramid request))"),
    ("a.py", 10, "assigned to cmd"),
    ("a.py", 11, "passed to middle() as value"),
    ("b.py", 4, "parameter value"),
    ("b.py", 5, "assigned to line"),
    ("b.py", 6, "passed to leaf() as command"),
    ("c.py", 4, "parameter command"),
    ("c.py", 5, "sink: os.system() (shell command, CWE-78)"),
]
JS = {
    "app.js": """const express = require("express");
const { middle } = require("./middle");

const app = express();

app.get("/run", (req, res) => {
  const cmd = req.query.cmd;
  res.send(middle(cmd));
});
""",
    "middle.js": """const { leaf } = require("./leaf");

function middle(value) {
  const line = "echo " + value;
  return leaf(line);
}

module.exports = { middle };
""",
    "leaf.js": """const child_process = require("child_process");

function leaf(command) {
  return command.length;
}

module.exports = { leaf };
""",
}
JS_SINK = ("  return command.length;\n", "  return child_process.execSync(command);\n")
C = {
    "chain.h": """#ifndef CHAIN_H
#define CHAIN_H
int run_leaf(const char *command);
int middle(const char *value);
#endif
""",
    "main.c": """#include "chain.h"

int main(int argc, char **argv) {
    const char *cmd = argv[1];
    return middle(cmd);
}
""",
    "middle.c": """#include "chain.h"

int middle(const char *value) {
    return run_leaf(value);
}
""",
    "leaf.c": """#include <stdlib.h>
#include <string.h>
#include "chain.h"

int run_leaf(const char *command) {
    return (int)strlen(command);
}
""",
}
C_SINK = ("    return (int)strlen(command);\n", "    return system(command);\n")
TARGET = re.compile(r"^\d+\| (?:@.*\n\d+\| )?def (\w+)\(", re.MULTILINE)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)


def make_repo(tmp_path: Path, files: dict[str, str], name: str = "repo") -> Path:
    repo = tmp_path / name
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "dev")
    for path, text in files.items():
        (repo / path).write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "init")
    return repo


def edit(repo: Path, path: str, change: tuple[str, str]) -> None:
    text = (repo / path).read_text()
    assert change[0] in text
    (repo / path).write_text(text.replace(*change))


def cli(repo: Path, *args: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-m", "vulnsight.cli", "scan", str(repo), "--detectors", "flow,llm"]
        + ["--model", "fake", "--gate", "off", "--format", "json", "--no-progress", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def model_flagged(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(file, function) of the model's findings: the fake flags all it judges."""
    return sorted(
        (f["file"], f["function"]) for f in report["findings"] if f["detectors"] == ["llm"]
    )


def flow_paths(report: dict[str, Any]) -> list[tuple[str, int, str, list[tuple[str, int, str]]]]:
    return [
        (
            f["file"],
            f["line_number"],
            f["cwe"],
            [(s["file"], s["line"], s["description"]) for s in f["path"]],
        )
        for f in report["findings"]
        if "flow" in f["detectors"]
    ]


def judged(backend: FakeBackend) -> list[str]:
    names = []
    for prompt in backend.seen:
        found = TARGET.search(prompt.body.split("<code", 1)[1])
        names.append(found.group(1) if found else "<toplevel>")
    return sorted(names)


def scan(repo: Path, diff: str | None) -> tuple[Report, FakeBackend]:
    project = ProjectConfig(root=repo)
    config = project.scan_config({"detectors": ("llm", "flow"), "gate": "off"})
    backend = FakeBackend(
        responder=lambda p: {
            "vulnerability": False,
            "type": "none",
            "line_number": 0,
            "confidence": 0.9,
        }
    )
    report = review_scan([repo], project, config, ReviewOptions(diff_ref=diff), backend)
    return report, backend


def test_python_diff_rejudges_a_caller_reached_only_through_another_unchanged_file(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path, PY)
    edit(repo, "c.py", PY_SINK)
    report = cli(repo, "--diff", "HEAD")
    stats = report["stats"]
    assert (stats["changed_functions"], stats["facts_changed_functions"]) == (1, 2)
    assert stats["facts_diff_files_parsed"] == 1  # a.py, two calls away from the change
    assert (stats["cache_misses"], stats["model_functions_judged"]) == (3, 3)
    assert model_flagged(report) == [("a.py", "handler"), ("b.py", "middle"), ("c.py", "leaf")]
    assert flow_paths(report) == [("c.py", 5, "CWE-78", PY_PATH)]

    # the same diff again: every verdict comes from the cache, the path is the same
    again = cli(repo, "--diff", "HEAD")
    assert (again["stats"]["cache_hits"], again["stats"]["cache_misses"]) == (3, 0)
    assert flow_paths(again) == [("c.py", 5, "CWE-78", PY_PATH)]


def test_python_judged_functions_and_the_cache_through_the_chain(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, PY)
    first, backend = scan(repo, None)
    # a.py's module level (`app = Flask(...)`) is judged too in a full scan
    assert judged(backend) == ["<toplevel>", "handler", "leaf", "middle", "unrelated"]
    edit(repo, "c.py", PY_SINK)

    report, backend = scan(repo, "HEAD")
    assert judged(backend) == ["handler", "leaf", "middle"]
    assert report.stats["facts_diff_rounds"] == 2

    # a full rescan after the diff scan: the diff scan stored all three new keys
    again, backend = scan(repo, None)
    assert judged(backend) == []
    assert (again.stats["cache_hits"], again.stats["cache_misses"]) == (5, 0)


def test_a_full_rescan_misses_the_cache_for_a_transitive_caller(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, PY)
    scan(repo, None)
    edit(repo, "c.py", PY_SINK)
    again, backend = scan(repo, None)
    # handler's and middle's text did not change: their facts digests did
    assert judged(backend) == ["handler", "leaf", "middle"]
    assert (again.stats["cache_hits"], again.stats["cache_misses"]) == (2, 3)  # unrelated, a.py


def test_four_files_deep_the_change_reaches_the_top(tmp_path: Path) -> None:
    files = dict(PY)
    files["a.py"] = (
        PY["a.py"]
        .replace("from b import middle", "from top import outer")
        .replace("return middle(cmd)", "return outer(cmd)")
    )
    files["top.py"] = "from b import middle\n\n\ndef outer(v):\n    return middle(v)\n"
    repo = make_repo(tmp_path, files)
    edit(repo, "c.py", PY_SINK)
    report, backend = scan(repo, "HEAD")
    assert judged(backend) == ["handler", "leaf", "middle", "outer"]
    assert report.stats["facts_changed_functions"] == 3
    assert report.stats["facts_diff_files_parsed"] == 2  # top.py, then a.py
    (flow,) = [f for f in report.findings if f.detector == "flow"]
    assert [(s.file, s.function) for s in flow.path][:4] == [
        ("a.py", "handler"),
        ("a.py", "handler"),
        ("a.py", "handler"),
        ("top.py", "outer"),
    ]
    assert (flow.file, flow.line_number, flow.cwe) == ("c.py", 5, "CWE-78")


def test_a_change_at_the_top_follows_the_data_down_to_an_unparsed_leaf(tmp_path: Path) -> None:
    files = dict(PY)
    files["a.py"] = PY["a.py"].replace('cmd = request.args.get("cmd")', 'cmd = "status"')
    files["c.py"] = PY["c.py"].replace(*PY_SINK)
    repo = make_repo(tmp_path, files)
    edit(repo, "a.py", ('cmd = "status"', 'cmd = request.args.get("cmd")'))
    report, backend = scan(repo, "HEAD")
    # c.py names neither handler nor its callees: parsed because middle's facts changed
    assert judged(backend) == ["handler", "leaf", "middle"]
    assert report.stats["facts_diff_files_parsed"] == 1
    assert [(f.file, f.line_number, f.cwe) for f in report.findings if f.detector == "flow"] == [
        ("c.py", 5, "CWE-78")
    ]


def test_an_irrelevant_leaf_change_parses_nothing_more(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, PY)
    scan(repo, None)
    edit(repo, "c.py", ("    return len(command)\n", "    return len(command) + 0\n"))
    report, backend = scan(repo, "HEAD")
    assert judged(backend) == ["leaf"]
    assert report.stats["facts_changed_functions"] == 0
    assert (report.stats["facts_diff_files_parsed"], report.stats["facts_diff_rounds"]) == (0, 1)
    assert report.findings == ()


def test_javascript_require_chain_through_three_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, JS)
    edit(repo, "leaf.js", JS_SINK)
    report = cli(repo, "--diff", "HEAD")
    assert report["stats"]["facts_changed_functions"] == 2
    assert report["stats"]["facts_diff_files_parsed"] == 1
    assert model_flagged(report) == [
        ("app.js", "app.get('/run') handler"),
        ("leaf.js", "leaf"),
        ("middle.js", "middle"),
    ]
    assert flow_paths(report) == [
        (
            "leaf.js",
            4,
            "CWE-78",
            [
                ("app.js", 7, "source: req.query (HTTP request data (Express/Next.js req))"),
                ("app.js", 7, "assigned to cmd"),
                ("app.js", 8, "passed to middle() as value"),
                ("middle.js", 3, "parameter value"),
                ("middle.js", 4, "assigned to line"),
                ("middle.js", 5, "passed to leaf() as command"),
                ("leaf.js", 3, "parameter command"),
                ("leaf.js", 4, "sink: child_process.execSync() (shell command, CWE-78)"),
            ],
        )
    ]


def test_c_header_and_two_files_chain(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, C)
    edit(repo, "leaf.c", C_SINK)
    report = cli(repo, "--diff", "HEAD")
    assert report["stats"]["facts_changed_functions"] == 2
    assert report["stats"]["facts_diff_files_parsed"] == 1  # main.c names no leaf function
    assert model_flagged(report) == [
        ("leaf.c", "run_leaf"),
        ("main.c", "main"),
        ("middle.c", "middle"),
    ]
    assert flow_paths(report) == [
        (
            "leaf.c",
            6,
            "CWE-78",
            [
                ("main.c", 4, "source: argv (command-line arguments (argv))"),
                ("main.c", 4, "assigned to cmd"),
                ("main.c", 5, "passed to middle() as value"),
                ("middle.c", 3, "parameter value"),
                ("middle.c", 4, "passed to run_leaf() as command"),
                ("leaf.c", 5, "parameter command"),
                ("leaf.c", 6, "sink: system() (shell command, CWE-78)"),
            ],
        )
    ]
