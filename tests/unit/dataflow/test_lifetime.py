"""Use after free (CWE-416) and double free (CWE-415) on the paths a free reaches:
exact (line, CWE) pairs on the fixtures, and silence on their near-misses."""

from __future__ import annotations

from tests.unit.dataflow.blind_fixtures import hits


def _run(path: str, language: str, text: str | None = None) -> list[tuple[int, str]]:
    return hits(path, language, ("CWE-415", "CWE-416"), text)


def test_freed_pointers_used_or_freed_again_are_flagged() -> None:
    assert _run("c/lifetime.c", "c") == [(11, "CWE-415"), (20, "CWE-416"), (29, "CWE-416")]


def test_reassigned_jumped_over_and_other_branch_frees_stay_silent() -> None:
    assert _run("c/lifetime_safe.c", "c") == []


def test_delete_then_member_access_or_second_delete_is_flagged() -> None:
    assert _run("cpp/lifetime.cpp", "cpp") == [(10, "CWE-416"), (16, "CWE-415")]


def test_a_free_in_one_case_does_not_reach_another_case() -> None:
    code = (
        "void f(char *p, int k) {\n"
        "    switch (k) {\n"
        "    case 1:\n"
        "        free(p);\n"
        "        break;\n"
        "    case 2:\n"
        "        puts(p);\n"
        "        break;\n"
        "    }\n"
        "}\n"
    )
    assert _run("a.c", "c", code) == []


def test_a_free_in_an_if_reaches_the_code_after_it() -> None:
    code = "void f(char *p, int k) {\n    if (k) {\n        free(p);\n    }\n    puts(p);\n}\n"
    assert _run("a.c", "c", code) == [(5, "CWE-416")]
