"""The rule pack on the labelled fixtures: exact findings on vulnerable files, none on safe ones.

Each ``tests/fixtures/<language>/`` holds ``vulnerable/`` and ``safe/`` files written like
application code, and an ``expected.json`` sidecar listing every finding the vulnerable
files must produce as ``{file, line, cwe, rule}``. The comparison is exact: a missing or
an extra finding fails, CWEs are compared as written (no family equivalence). Safe files,
which hold the near-miss versions of the same code, must produce no finding at all.
``known_misses`` documents bugs the pack is known not to find; the test asserts they are
still missed, so fixing one forces the sidecar to be updated.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from vulnsight.rules.engine import run_semgrep
from vulnsight.types import Finding

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LANGUAGES = ("c", "cpp", "python", "javascript", "typescript", "solidity")

pytestmark = pytest.mark.semgrep


@cache
def _scan(language: str) -> tuple[Finding, ...]:
    """One Semgrep run over a language's vulnerable and safe files."""
    root = FIXTURES / language
    targets = sorted(
        p for p in root.rglob("*") if p.is_file() and p.parent.name in ("vulnerable", "safe")
    )
    findings, errors = run_semgrep(targets, root)
    assert not errors, errors
    return tuple(findings)


def _expected(language: str) -> dict[str, list[dict[str, object]]]:
    data: dict[str, list[dict[str, object]]] = json.loads(
        (FIXTURES / language / "expected.json").read_text(encoding="utf-8")
    )
    return data


@pytest.fixture(autouse=True)
def _needs_semgrep() -> None:
    import shutil

    if shutil.which("semgrep") is None:
        pytest.skip("semgrep is not installed")


@pytest.mark.parametrize("language", LANGUAGES)
def test_fixture_layout(language: str) -> None:
    root = FIXTURES / language
    assert len(list((root / "vulnerable").iterdir())) >= 2
    assert len(list((root / "safe").iterdir())) >= 2
    for item in _expected(language)["findings"]:
        assert (root / str(item["file"])).is_file(), item


@pytest.mark.parametrize("language", LANGUAGES)
def test_vulnerable_files_produce_exactly_the_expected_findings(language: str) -> None:
    got = {
        (f.file, f.line_number, f.cwe, f.rule_id)
        for f in _scan(language)
        if f.file.startswith("vulnerable/")
    }
    want = {
        (str(e["file"]), int(str(e["line"])), str(e["cwe"]), str(e["rule"]))
        for e in _expected(language)["findings"]
    }
    assert sorted(got - want) == [], "unexpected findings"
    assert sorted(want - got) == [], "missed findings"


@pytest.mark.parametrize("language", LANGUAGES)
def test_safe_files_produce_no_finding(language: str) -> None:
    extra = [
        (f.file, f.line_number, f.rule_id) for f in _scan(language) if f.file.startswith("safe/")
    ]
    assert extra == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_known_misses_are_still_missed(language: str) -> None:
    for miss in _expected(language)["known_misses"]:
        hits = [
            f
            for f in _scan(language)
            if f.file == miss["file"]
            and f.line_number == miss["line"]
            and f.cwe == miss["cwe"]
            and f.rule_id == miss.get("rule", f.rule_id)
        ]
        assert hits == [], f"now found, move it to findings: {miss}"
