"""The CLI on the bundled example project: rules and the real embedded model, offline."""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest
from click.testing import CliRunner

from vulnsight.cli import main

from ..conftest import EXAMPLE

pytestmark = [pytest.mark.model, pytest.mark.semgrep]

# (file, line, cwe) that must be reported in the example project, one per weakness.
EXPECTED = {
    ("c/buffer.c", 15, "CWE-120"),
    ("c/buffer.c", 37, "CWE-78"),
    ("c/buffer.c", 53, "CWE-416"),
    ("python/app.py", 17, "CWE-89"),
    ("python/app.py", 38, "CWE-78"),
    ("python/app.py", 57, "CWE-502"),
    ("web/server.js", 11, "CWE-89"),
    ("web/server.js", 24, "CWE-78"),
    ("web/server.js", 38, "CWE-95"),
    ("web/view.ts", 7, "CWE-79"),
    ("contracts/Vault.sol", 23, "CWE-841"),
    ("contracts/Vault.sol", 35, "CWE-284"),
    ("contracts/Vault.sol", 49, "CWE-252"),
}
# Safe twins: no finding may land inside these functions.
SAFE = {
    "set_name_safe",
    "log_message_safe",
    "find_user_safe",
    "ping_safe",
    "productQuerySafe",
    "renderCommentSafe",
    "Vault.withdrawSafe",
    "Vault.setOwnerSafe",
    "total",
    "formatPrice",
    "net::Packet::header_safe",
    "duplicate",
}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    out = tmp_path_factory.mktemp("scan")
    project = out / "project"
    shutil.copytree(EXAMPLE, project)
    runner = CliRunner()
    results = {}
    for fmt in ("json", "sarif"):
        res = runner.invoke(main, ["scan", str(project), "--format", fmt, "-o", str(out / fmt)])
        results[fmt] = (
            res.exit_code,
            (out / fmt).read_text() if (out / fmt).exists() else res.output,
        )
    return results


def test_json_report_finds_the_known_weaknesses_on_their_lines(scanned):
    code, text = scanned["json"]
    assert code == 1
    report = json.loads(text)
    got = {(f["file"], f["line_number"], f["cwe"]) for f in report["findings"]}
    missing = EXPECTED - got
    assert not missing, f"missing: {sorted(missing)}"
    flagged_safe = {f["function"] for f in report["findings"]} & SAFE
    assert not flagged_safe
    assert report["stats"]["functions"] >= 40
    assert all(f["fingerprint"] and f["detectors"] for f in report["findings"])


def test_sarif_report_is_valid(scanned, sarif_schema):
    code, text = scanned["sarif"]
    assert code == 1
    doc = json.loads(text)
    jsonschema.validate(doc, sarif_schema)
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} <= {
        r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]
    }


def test_clean_tree_exits_zero_and_bad_usage_exits_two(tmp_path):
    (tmp_path / "ok.py").write_text("def add(a, b):\n    return a + b\n")
    runner = CliRunner()
    res = runner.invoke(main, ["scan", str(tmp_path), "--format", "json", "--detectors", "rules"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["findings"] == []
    bad = runner.invoke(main, ["scan", str(tmp_path), "--detectors", "magic"])
    assert bad.exit_code == 2 and "unknown detector" in bad.output
    bad = runner.invoke(main, ["scan", str(tmp_path), "--model", "/nope/model.gguf"])
    assert bad.exit_code == 2 and "not found" in bad.output
