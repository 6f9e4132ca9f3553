"""The shipped rule pack: Semgrep's own annotation tests pass and every rule is described."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from vulnsight.cwe import CWE_NAMES
from vulnsight.rules.engine import pack_dir, pack_files, semgrep_env

RULE_TESTS = Path(__file__).resolve().parents[2] / "rules"
LANGUAGES = {"c", "cpp", "python", "javascript", "solidity"}


def _rules() -> list[dict[str, object]]:
    rules: list[dict[str, object]] = []
    for path in pack_files():
        rules.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["rules"])
    return rules


def test_pack_has_one_file_per_language() -> None:
    assert {p.stem for p in pack_files()} == LANGUAGES
    assert pack_dir().is_dir()


def test_every_rule_has_id_cwe_confidence_and_message() -> None:
    rules = _rules()
    ids = [str(r["id"]) for r in rules]
    assert len(ids) == len(set(ids)), "duplicate rule ids"
    for rule in rules:
        rule_id = str(rule["id"])
        lang = rule_id.split(".")[1]
        assert rule_id.startswith(f"vulnsight.{lang}.") and lang in LANGUAGES
        meta = rule["metadata"]
        assert isinstance(meta, dict)
        assert str(meta["cwe"]).startswith("CWE-"), rule_id
        assert 0.0 < float(meta["confidence"]) <= 1.0, rule_id
        assert meta["category"] == "security"
        assert rule["severity"] in {"ERROR", "WARNING", "INFO"}
        assert rule["message"]
        assert str(meta["cwe"]) in CWE_NAMES, f"{rule_id}: add {meta['cwe']} to cwe.py"


def test_rule_test_configs_point_at_the_pack() -> None:
    for lang in LANGUAGES:
        config = RULE_TESTS / lang / f"{lang}.yaml"
        assert config.resolve() == (pack_dir() / f"{lang}.yaml").resolve()


@pytest.mark.semgrep
def test_semgrep_annotation_tests_pass() -> None:
    exe = shutil.which("semgrep")
    if exe is None:
        pytest.skip("semgrep is not installed")
    # `semgrep test` is the native runner; the legacy `semgrep --test` needs the Python
    # telemetry stack, which is not required for scanning.
    proc = subprocess.run(
        [exe, "test", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        env=semgrep_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All tests passed" in proc.stdout
