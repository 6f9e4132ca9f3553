"""Baselines: only new findings, matched by line-independent fingerprints."""

from __future__ import annotations

import json

import pytest

from vulnsight.errors import ConfigError
from vulnsight.review import baseline
from vulnsight.types import Finding, Report, fingerprint


def at(line: int, snippet: str, function: str = "f") -> Finding:
    return Finding(
        "a.py",
        line,
        "CWE-89",
        "m",
        "rules",
        0.7,
        rule_id="r",
        snippet=snippet,
        fingerprint=fingerprint("r", "a.py", function, snippet),
    )


def test_roundtrip_and_line_moves_still_match(tmp_path):
    old = Report((at(7, "cur.execute(q)"),))
    path = tmp_path / "baseline.json"
    path.write_text(baseline.to_json(old))
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["findings"][0]["line"] == 7
    moved = Report((at(30, "cur.execute(q)"), at(31, "cur.execute(q2)")))
    out = baseline.new_findings(moved, baseline.load(path))
    assert [f.line_number for f in out.findings] == [31]
    assert out.stats["baseline_matched"] == 1


def test_a_second_copy_of_a_known_finding_is_new():
    known = baseline.Baseline.of([at(7, "cur.execute(q)")])
    twice = Report((at(7, "cur.execute(q)"), at(9, "cur.execute(q)")))
    assert [f.line_number for f in baseline.new_findings(twice, known).findings] == [9]


def test_bad_files_are_config_errors(tmp_path):
    for text in ("not json", '{"version": 2}', '{"version": 1, "findings": [{}]}'):
        (tmp_path / "b.json").write_text(text)
        with pytest.raises(ConfigError):
            baseline.load(tmp_path / "b.json")
    with pytest.raises(ConfigError):
        baseline.load(tmp_path / "missing.json")
