"""Configuration files: discovery, validation with clear errors, flags on top."""

from __future__ import annotations

import pytest

from vulnsight.errors import ConfigError
from vulnsight.review.config_file import discover_config, load

PYPROJECT = """
[project]
name = "demo"

[tool.vulnsight]
include = ["src/**"]
exclude = ["src/vendor/**"]
detectors = ["rules"]
min_confidence = 0.25
max_file_size = 500000

[[tool.vulnsight.ignore]]
paths = ["tests/**"]
cwes = ["CWE-89"]
reason = "fixtures"
"""


def test_pyproject_table_becomes_a_scan_config(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "src").mkdir()
    project = discover_config(None, tmp_path / "src")
    assert project.source == tmp_path.resolve() / "pyproject.toml"
    config = project.scan_config()
    assert config.detectors == ("rules",)
    assert config.include == ("src/**",) and config.exclude == ("src/vendor/**",)
    assert config.min_confidence == 0.25 and config.max_file_bytes == 500000
    assert project.ignores[0].cwes == ("CWE-89",)
    assert project.ignores[0].origin == "repository"
    # Scanner state lives outside the tree (the tests' $VULNSIGHT_STATE_DIR).
    assert tmp_path.resolve() not in project.state_dir.resolve().parents
    assert project.scan_config({"min_confidence": 0.9}).min_confidence == 0.9


def test_vulnsight_toml_without_table_header_wins_over_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "vulnsight.toml").write_text('detectors = ["rules"]\nmodel = "base"\n')
    config = discover_config(None, tmp_path).scan_config()
    assert config.detectors == ("rules",) and config.model == "base"
    assert config.include == ()  # nothing of pyproject.toml's table applies
    project = discover_config(None, tmp_path)
    assert [(e.key, e.action) for e in project.effects][-1] == ("pyproject.toml", "ignored")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('modle = "x"', "unknown key 'modle' (did you mean 'model'?)"),
        ("min_confidence = 3", "min_confidence: Input should be less than or equal to 1"),
        ('detectors = ["regex"]', "detectors.0: Input should be 'rules', 'llm' or 'flow'"),
        ("[[ignore]]\nreason = 'x'", "at least one of paths, cwes, rules"),
        ("[[ignore]]\ncwes = ['89']", "not a CWE id: 89"),
        ("jobs = [", "invalid TOML"),
    ],
)
def test_bad_values_are_clear_config_errors(tmp_path, text, message):
    (tmp_path / "vulnsight.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load(tmp_path / "vulnsight.toml")
    assert message in str(err.value)
    assert str(tmp_path / "vulnsight.toml") in str(err.value)


def test_no_config_means_defaults_rooted_at_the_repository(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pkg").mkdir()
    project = discover_config(None, tmp_path / "pkg")
    assert project.source is None and project.root == tmp_path.resolve()
    assert project.scan_config().detectors == ("rules", "llm", "flow")
