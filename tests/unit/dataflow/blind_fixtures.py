"""Shared by the blind-check tests: run every check on one fixture (or given text) and
keep the (line, CWE) pairs of the CWEs a test is about."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from vulnsight.dataflow.blind import run_checks
from vulnsight.parse.extract import extract
from vulnsight.types import SourceFile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "blind"


def hits(
    path: str, language: str, cwes: Collection[str], text: str | None = None
) -> list[tuple[int, str]]:
    """(line, CWE) of the findings with one of `cwes`; the checks must raise no error."""
    text = (FIXTURES / path).read_text() if text is None else text
    source = SourceFile(path, language, text)
    findings, errors = run_checks([source], extract(source))
    assert errors == []
    return [(f.line_number, f.cwe) for f in findings if f.cwe in cwes]
