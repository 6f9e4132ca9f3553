"""The data-flow engine's work per function is bounded: a hostile file cannot make it
run for hours (nested loops doubled the work per level)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.dataflow.helpers import run_flow
from vulnsight.dataflow import engine


def _nested_loops(depth: int) -> str:
    lines = ["import os, sys", "", "def main():", "    cmd = sys.argv[1]"]
    for i in range(depth):
        lines.append("    " * (i + 1) + f"for i{i} in range(3):")
    lines.append("    " * (depth + 1) + "os.system(cmd)")
    return "\n".join(lines) + "\n"


def test_deeply_nested_loops_cost_linear_work(tmp_path: Path, monkeypatch) -> None:
    """22 nested loops in 27 lines: each level used to double the work (2**22 passes over
    the innermost body, hours); now the finding comes within a small budget."""
    monkeypatch.setattr(engine, "MAX_VISITS", 20_000)
    (tmp_path / "a.py").write_text(_nested_loops(22))
    result = run_flow(tmp_path)
    assert [(f.file, f.line_number, f.cwe) for f in result.findings] == [("a.py", 27, "CWE-78")]
    assert result.errors == ()


def test_a_function_over_the_budget_is_an_error_and_the_scan_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "MAX_VISITS", 60)
    big = "\n".join(f"    x{i} = cmd + '{i}'" for i in range(40))
    (tmp_path / "a.py").write_text(
        "import os, sys\n\n"
        f"def big():\n    cmd = sys.argv[1]\n{big}\n    os.system(cmd)\n\n"
        "def small():\n    os.system(sys.argv[1])\n"
    )
    result = run_flow(tmp_path)
    assert [(f.function, f.line_number) for f in result.findings] == [("small", 48)]
    assert [(e.file, e.detector, e.reason) for e in result.errors] == [
        ("a.py", "flow", "data-flow: big is too complex to follow (over 60 steps)")
    ]


def test_copying_and_joining_state_counts_against_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every `if` copies and joins every variable: n variables and n branches cost n**2
    (4,000 of each, 180 kB, took 50 s). That work counts, so such a function stops at the
    budget, reported."""
    monkeypatch.setattr(engine, "MAX_VISITS", 20_000)
    n = 300
    body = "\n".join(f"    v{i} = c" for i in range(n))
    body += "\n" + "\n".join(f"    if v{i}:\n        v{i} = 1" for i in range(n))
    (tmp_path / "a.py").write_text(
        f"import os, sys\n\ndef f():\n    c = sys.argv[1]\n{body}\n    os.system(v1)\n"
    )
    result = run_flow(tmp_path)
    assert result.findings == ()
    assert [(e.file, e.reason) for e in result.errors] == [
        ("a.py", "data-flow: f is too complex to follow (over 20,000 steps)")
    ]


def test_one_file_has_a_step_budget_for_all_its_functions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Functions each under the per-function budget add up: once a file has spent its
    budget the rest of its functions are not followed, said in one error per file, and
    other files are analysed as usual."""
    from vulnsight.dataflow import scan

    monkeypatch.setattr(scan, "MAX_FILE_VISITS", 200)
    body = "\n".join(f"    x{i} = cmd + '{i}'" for i in range(20))
    funcs = "".join(
        f"def f{i}():\n    cmd = sys.argv[1]\n{body}\n    os.system(cmd)\n\n" for i in range(6)
    )
    (tmp_path / "a.py").write_text("import os, sys\n\n" + funcs)
    (tmp_path / "b.py").write_text("import os, sys\n\ndef g():\n    os.system(sys.argv[1])\n")
    result = run_flow(tmp_path)
    assert {f.file for f in result.findings} == {"a.py", "b.py"}
    assert len([f for f in result.findings if f.file == "a.py"]) < 6
    assert [(e.file, e.reason) for e in result.errors] == [
        ("a.py", "data-flow: 4 function(s) not followed (over the file's step budget)")
    ]
