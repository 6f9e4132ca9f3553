"""Command-line edges of the review workflow (no scan runs here)."""

from __future__ import annotations

from click.testing import CliRunner

from vulnsight.cli import main


def test_bad_config_is_a_clear_error_with_exit_two(tmp_path):
    (tmp_path / "vulnsight.toml").write_text("min_confidence = 2\nmodle = 'x'\n")
    (tmp_path / "a.py").write_text("x = 1\n")
    result = CliRunner().invoke(main, ["scan", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown key 'modle' (did you mean 'model'?)" in result.stderr
    assert "min_confidence: Input should be less than or equal to 1" in result.stderr


def test_diff_outside_git_and_serving_without_token_exit_two(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    runner = CliRunner()
    result = runner.invoke(main, ["scan", str(tmp_path), "--diff", "HEAD", "--detectors", "rules"])
    assert result.exit_code == 2 and "git rev-parse" in result.stderr
    result = runner.invoke(main, ["serve", "--host", "0.0.0.0", "--detectors", "rules"])
    assert result.exit_code == 2 and "without a token" in result.stderr


def test_triage_by_fingerprint_needs_a_label(tmp_path):
    result = CliRunner().invoke(main, ["triage", str(tmp_path), "--fingerprint", "abcdef12"])
    assert result.exit_code == 2 and "--label" in result.stderr
