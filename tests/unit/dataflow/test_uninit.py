"""Reads of local variables before anything is stored in them (CWE-457): exact (line,
CWE) pairs on the fixture, silence on its near-misses (out-parameters, a loop that
stores first on an earlier iteration, static locals, macros, both branches storing)."""

from __future__ import annotations

from tests.unit.dataflow.blind_fixtures import hits


def _run(path: str, language: str, text: str | None = None) -> list[tuple[int, str]]:
    return hits(path, language, ("CWE-457",), text)


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
