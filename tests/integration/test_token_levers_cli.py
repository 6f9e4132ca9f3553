"""`vulnsight scan --gate lean --callers alone`: the token levers from the command line,
with the fake model (every judged function flagged) in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PICK = "int pick(int *a, int i) {\n    int x = a[i];\n    return clamp(x * 2);\n}\n"
WRAP = "int wrap(struct ctx *c) {\n    int s = lookup(c);\n    return finish(c, s);\n}\n"
GET = "int get(const struct p *p) {\n    return p->x;\n}\n"


def scan(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "report.json"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "vulnsight.cli",
            "scan",
            str(tmp_path / "src"),
            "--model",
            "fake",
            "--detectors",
            "llm",
            "--no-cache",
            "--no-progress",
            "--format",
            "json",
            "-o",
            str(out),
            *flags,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_lean_gate_duplicates_and_alone_context_from_the_cli(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "vendor").mkdir(parents=True)
    (src / "a.c").write_text(PICK + "\n" + WRAP + "\n" + GET)
    (src / "vendor" / "b.c").write_text("\n\n" + PICK)
    proc = scan(tmp_path, "--gate", "lean", "--callers", "alone")
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    stats = report["stats"]
    assert stats["model_functions_judged"] == 1  # pick, once for both copies
    assert stats["model_duplicates_reused"] == 1
    assert stats["gate_skipped_trivial"] == 1  # get
    assert stats["gate_skipped_no-risk"] == 1  # wrap: no construct a C weakness needs
    lines = sorted((f["file"], f["function"], f["line_number"]) for f in report["findings"])
    assert [(f, fn) for f, fn, _ in lines] == [("a.c", "pick"), ("vendor/b.c", "pick")]
    assert lines[1][2] - 2 == lines[0][2]  # the same line of the copy, two lines lower


def test_unknown_caller_policy_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.c").write_text(PICK)
    proc = scan(tmp_path, "--callers", "some")
    assert proc.returncode == 2
    assert "'some' is not one of" in proc.stderr
