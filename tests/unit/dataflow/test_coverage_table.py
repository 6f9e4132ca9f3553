"""The data-flow coverage table (docs/dataflow-coverage.md) against the fixtures and the
specifications, so it cannot rot: each row's flagged location is a finding of the
engine (file, line, CWE, sink, where its path starts and a step on the way) held in the
fixture's snapshot, each near-miss line is silent, and every source and sink of every
specification and every family the data-flow issue names has a row."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.unit.dataflow.helpers import FIXTURES, run_flow
from vulnsight.types import Finding

ROOT = Path(__file__).resolve().parents[3]
TABLE = ROOT / "docs" / "dataflow-coverage.md"
SPECS = ROOT / "src" / "vulnsight" / "dataflow" / "specs"
#: the specification each language's rows answer to (C++ shares C's)
SPEC_OF = {
    "python": "python",
    "javascript": "javascript",
    "c": "c",
    "cpp": "c",
    "solidity": "solidity",
}
#: the source families the data-flow issue names, per language (a row's case starts so)
FAMILIES = {
    "python": ["Flask", "Django", "FastAPI", "argv", "environment", "stdin"],
    "javascript": ["Express", "Koa", "Next.js", "argv", "environment"],
    "c": ["argv", "environment", "stdin", "recv", "read", "file contents"],
    "cpp": ["argv", "environment", "stdin", "recv", "read", "file contents"],
    "solidity": ["msg.sender", "msg.value", "calldata", "external call result"],
}
SHAPES = ["sanitiser", "cross-file", "container", "constant branch"]
_FLAGGED = re.compile(r"^(?P<dir>[\w-]+)/(?P<file>[\w./-]+):(?P<line>\d+) (?P<cwe>CWE-\d+)$")
_SILENT = re.compile(r"^(?P<dir>[\w-]+)/(?P<file>[\w./-]+):(?P<line>\d+)$")


@dataclass(frozen=True)
class Row:
    language: str
    case: str
    directory: str
    file: str
    line: int
    cwe: str
    starts: str
    step: str
    quiet_directory: str
    quiet_file: str
    quiet_line: int

    def __str__(self) -> str:
        return f"{self.language}: {self.case}"


def _rows() -> list[Row]:
    text = TABLE.read_text()
    body = text.split("<!-- coverage-table -->", 1)[1].split("<!-- /coverage-table -->", 1)[0]
    rows = []
    for line in body.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 7, line
        language, case, flagged, starts, step, silent, _why = cells
        hit, quiet = _FLAGGED.match(flagged), _SILENT.match(silent)
        assert hit and quiet, line
        rows.append(
            Row(
                language,
                case,
                hit["dir"],
                hit["file"],
                int(hit["line"]),
                hit["cwe"],
                starts,
                step,
                quiet["dir"],
                quiet["file"],
                int(quiet["line"]),
            )  # fmt: skip
        )
    return rows


ROWS = _rows()


@cache
def _findings(directory: str) -> dict[tuple[str, int, str], Finding]:
    result = run_flow(FIXTURES / directory)
    return {(f.file, f.line_number, f.cwe): f for f in result.findings}


@cache
def _snapshot(directory: str) -> frozenset[tuple[str, int, str]]:
    records = json.loads((FIXTURES / directory / "expected.json").read_text())
    return frozenset((r["file"], r["line"], r["cwe"]) for r in records)


def test_the_table_has_rows_for_every_language() -> None:
    assert {r.language for r in ROWS} == set(SPEC_OF)


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_each_flagged_location_is_a_finding_with_its_path(row: Row) -> None:
    assert (FIXTURES / row.directory / row.file).is_file()
    key = (row.file, row.line, row.cwe)
    found = _findings(row.directory)
    assert key in found, f"{row}: no {row.cwe} at {row.file}:{row.line}"
    assert key in _snapshot(row.directory)
    finding = found[key]
    if row.case.startswith("sink: "):
        assert finding.rule_id.endswith("." + row.case.removeprefix("sink: "))
    assert finding.path[0].description.startswith(f"source: {row.starts}"), finding.path[0]
    if row.step:
        assert any(row.step in s.description for s in finding.path[1:]), finding.path
    if row.case == "cross-file":
        assert len({s.file for s in finding.path}) >= 2


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_each_near_miss_line_is_code_and_stays_silent(row: Row) -> None:
    lines = (FIXTURES / row.quiet_directory / row.quiet_file).read_text().splitlines()
    assert 0 < row.quiet_line <= len(lines), row
    code = lines[row.quiet_line - 1].strip()
    assert code and not code.startswith(("#", "//", "}")), row  # a statement, not a blank
    found = _findings(row.quiet_directory)
    assert not [k for k in found if k[:2] == (row.quiet_file, row.quiet_line)], row


@pytest.mark.parametrize("language", sorted(SPEC_OF))
def test_every_sink_of_the_specification_has_a_row(language: str) -> None:
    spec = tomllib.loads((SPECS / f"{SPEC_OF[language]}.toml").read_text())
    ids = {s["id"] for s in spec.get("sink", [])} | {o["id"] for o in spec.get("operator", [])}
    rows = {r.case.removeprefix("sink: ") for r in ROWS if r.language == language}
    assert ids - rows == set()


@pytest.mark.parametrize("language", sorted(SPEC_OF))
def test_every_named_family_and_shape_has_a_row(language: str) -> None:
    cases = [r.case for r in ROWS if r.language == language]
    for family in FAMILIES[language]:
        assert any(c.startswith(f"source: {family}") for c in cases), family
    for shape in SHAPES:
        assert shape in cases, shape


@pytest.mark.parametrize("spec_name", sorted(set(SPEC_OF.values())))
def test_every_source_of_the_specification_starts_a_flagged_path(spec_name: str) -> None:
    spec = tomllib.loads((SPECS / f"{spec_name}.toml").read_text())
    labels = {s["label"] for s in spec.get("source", [])}
    handler = spec.get("handlers", {}).get("label")
    if handler or spec.get("handlers", {}).get("decorators"):
        labels.add(handler or "request parameter of a route handler")
    starts = set()
    for row in ROWS:
        if SPEC_OF[row.language] == spec_name:
            first = _findings(row.directory)[(row.file, row.line, row.cwe)].path[0]
            starts.add(first.description)
    assert {label for label in labels if not any(f"({label})" in s for s in starts)} == set()
