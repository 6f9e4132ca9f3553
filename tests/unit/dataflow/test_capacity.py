"""Copies of a constant size past a buffer of a known size (CWE-787): exact (line, CWE)
pairs on the fixture, silence on its near-misses (sizes that fit, a pointer moved to a
larger buffer, sizes not known)."""

from __future__ import annotations

from tests.unit.dataflow.blind_fixtures import hits


def _run(path: str, language: str, text: str | None = None) -> list[tuple[int, str]]:
    return hits(path, language, ("CWE-787",), text)


def test_constant_copies_and_loops_past_the_end_are_flagged() -> None:
    assert _run("c/capacity.c", "c") == [
        (6, "CWE-787"),
        (14, "CWE-787"),
        (22, "CWE-787"),
        (29, "CWE-787"),
    ]


def test_copies_that_fit_or_have_unknown_sizes_stay_silent() -> None:
    assert _run("c/capacity_safe.c", "c") == []


def test_new_array_of_a_constant_count_has_its_byte_size() -> None:
    code = (
        "void f(const char *src) {\n"
        "    char *data = new char[50];\n"
        "    memmove(data, src, 100);\n"
        "    wchar_t *wide = new wchar_t[50];\n"
        '    wmemcpy(wide, L"x", 50);\n'
        "}\n"
    )
    assert _run("a.cpp", "cpp", code) == [(3, "CWE-787")]
