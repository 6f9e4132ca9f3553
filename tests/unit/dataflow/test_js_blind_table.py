"""The JavaScript/TypeScript blind-check table of docs/dataflow-coverage.md against the
fixtures, so it cannot rot: every rule has a row, each `flagged` location is a finding of
that rule, and each near-miss line is code that no JS check flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.dataflow.test_js_blind import EXPECTED, FIXTURES
from vulnsight.dataflow.blind import CHECKS

TABLE = Path(__file__).resolve().parents[3] / "docs" / "dataflow-coverage.md"
_REF = re.compile(r"((?:javascript|typescript)/[\w.]+):(\d+)")


def _rows() -> list[tuple[str, str, list[tuple[str, int]], list[tuple[str, int]]]]:
    body = TABLE.read_text().split("## JavaScript/TypeScript blind-class checks", 1)[1]
    rows = []
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].startswith("CWE-"):
            continue
        flagged = [(f, int(n)) for f, n in _REF.findall(cells[2])]
        silent = [(f, int(n)) for f, n in _REF.findall(cells[3])]
        rows.append((cells[0], cells[1], flagged, silent))
    return rows


ROWS = _rows()


def test_every_js_check_has_a_row() -> None:
    documented = {(rule, cwe) for rule, cwe, _, _ in ROWS}
    checks = {(c.id, c.cwe) for c in CHECKS.values() if c.family == "javascript"}
    assert documented == checks


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r[0])
def test_flagged_and_silent_lines_match_the_fixtures(
    row: tuple[str, str, list[tuple[str, int]], list[tuple[str, int]]],
) -> None:
    rule, cwe, flagged, silent = row
    assert flagged and silent
    for file, line in flagged:
        assert (line, cwe, rule) in EXPECTED[file]
    for file, line in silent:
        code = (FIXTURES / file).read_text().splitlines()[line - 1].strip()
        assert code and not code.startswith(("//", "}")), (file, line)
        assert not [h for h in EXPECTED[file] if h[0] == line], (file, line)
