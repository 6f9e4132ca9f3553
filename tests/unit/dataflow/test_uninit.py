"""Reads of local variables before anything is stored in them (CWE-457): exact (line,
CWE) pairs on the fixture, silence on its near-misses (out-parameters, a loop that
stores first on an earlier iteration, static locals, macros, both branches storing)."""

from __future__ import annotations

from pathlib import Path

from vulnsight.dataflow.blind import run_checks
from vulnsight.parse.extract import extract
from vulnsight.types import SourceFile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "blind"


def _run(path: str, language: str, text: str | None = None) -> list[tuple[int, str]]:
    text = (FIXTURES / path).read_text() if text is None else text
    source = SourceFile(path, language, text)
    findings, errors = run_checks([source], extract(source))
    assert errors == []
    return [(f.line_number, f.cwe) for f in findings if f.cwe == "CWE-457"]


def test_unset_scalars_pointers_and_buffers_are_flagged() -> None:
    assert _run("c/uninit.c", "c") == [(7, "CWE-457"), (14, "CWE-457"), (24, "CWE-457"),
                                       (32, "CWE-457")]  # fmt: skip


def test_stored_handed_on_and_loop_carried_values_stay_silent() -> None:
    assert _run("c/uninit_safe.c", "c") == []


def test_a_cpp_scalar_handed_to_a_call_may_be_a_reference() -> None:
    code = "void f() {\n    int n;\n    read_into(n);\n    use(n);\n}\n"
    assert _run("a.cpp", "cpp", code) == []
    assert _run("a.c", "c", code) == [(3, "CWE-457")]


def test_a_buffer_written_in_part_is_not_flagged() -> None:
    code = (
        "int f(void) {\n"
        "    double *data = (double *)malloc(10 * sizeof(double));\n"
        "    data[0] = 1.0;\n"
        "    return (int)data[5];\n"
        "}\n"
    )
    assert _run("a.c", "c", code) == []
