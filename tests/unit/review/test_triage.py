"""Triage decisions: stored by fingerprint, exported in the shared record schema."""

from __future__ import annotations

import json

import pytest

from vulnsight.errors import ConfigError
from vulnsight.review.triage import (
    TriageStore,
    decide,
    parse_label,
    suppress_false_positives,
    to_jsonl,
)
from vulnsight.types import Finding, Report

CODE = "import os\n\n\ndef run(cmd):\n    x = 1\n    os.system(cmd)\n"


def finding() -> Finding:
    return Finding(
        "a.py", 6, "CWE-78", "m", "rules", 0.7, rule_id="vulnsight.python.os-system",
        function="run", fingerprint="f" * 32,
    )  # fmt: skip


def test_decisions_roundtrip_and_export_in_the_shared_schema(tmp_path):
    (tmp_path / "a.py").write_text(CODE)
    store = TriageStore.in_dir(tmp_path / ".vulnsight")
    store.save(decide(finding(), tmp_path, 1, "real", "demo"))
    (rec,) = [json.loads(line) for line in to_jsonl(store.decisions()).splitlines()]
    assert set(rec) == {
        "id", "language", "code", "label", "cwe", "lines", "source", "project", "path", "meta",
    }  # fmt: skip
    assert rec["code"] == "def run(cmd):\n    x = 1\n    os.system(cmd)"
    assert (rec["label"], rec["lines"], rec["language"]) == (1, [3], "python")
    assert rec["meta"]["rule_id"] == "vulnsight.python.os-system"
    # The last decision wins; a false positive exports no lines and is suppressed.
    store.save(decide(finding(), tmp_path, 0, "sanitised by caller", "demo"))
    (rec,) = [json.loads(line) for line in to_jsonl(store.decisions()).splitlines()]
    assert (rec["label"], rec["lines"]) == (0, [])
    out = suppress_false_positives(Report((finding(),)), store.false_positives())
    assert out.findings[0].suppression_reason == "triaged as false positive: sanitised by caller"


def test_labels():
    assert parse_label("TP") == 1 and parse_label("false-positive") == 0
    with pytest.raises(ConfigError):
        parse_label("maybe")
