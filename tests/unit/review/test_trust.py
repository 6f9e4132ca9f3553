"""The trust boundary: what a scanned repository's configuration may change, what the
user's configuration and flags decide, and how configuration files are found and read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vulnsight.errors import ConfigError
from vulnsight.review.config_file import discover_config, find, parse
from vulnsight.review.trust import limit, matches_everything


def repo_with(tmp_path: Path, text: str, name: str = "vulnsight.toml") -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / name).write_text(text)
    return repo


def effects(project) -> dict[str, str]:
    return {e.key: e.action for e in project.effects}


@pytest.mark.parametrize(
    "model",
    [
        "http://127.0.0.1:9/v1#x",
        "https://api.example.com/v1#gpt",
        "org/evil-model",
        "models/evil.gguf",
        "/tmp/evil.gguf",
        "fake",
    ],
)
def test_repository_model_other_than_embedded_is_refused(tmp_path, model):
    repo = repo_with(tmp_path, f"model = {model!r}\n")
    project = discover_config(None, repo)
    assert project.scan_config().model is None
    assert effects(project)["model"] == "refused"
    allowed = discover_config(None, repo, allow_repo_model=True)
    assert allowed.scan_config().model == model and allowed.repo_model


def test_embedded_models_are_honoured(tmp_path):
    project = discover_config(None, repo_with(tmp_path, 'model = "base"\n'))
    assert project.scan_config().model == "base" and effects(project)["model"] == "applied"


def test_user_config_allows_or_overrides(tmp_path, monkeypatch):
    repo = repo_with(tmp_path, 'model = "http://127.0.0.1:9/v1#x"\nmin_confidence = 0.2\n')
    user = tmp_path / "config.toml"
    user.write_text("allow_repo_model = true\n")
    monkeypatch.setenv("VULNSIGHT_CONFIG", str(user))
    assert discover_config(None, repo).scan_config().model == "http://127.0.0.1:9/v1#x"
    user.write_text('model = "default"\nmin_confidence = 0.9\n')
    project = discover_config(None, repo)
    config = project.scan_config()
    assert (config.model, config.min_confidence) == ("default", 0.9)
    assert project.origin_of("model") == "user" and not project.repo_model
    monkeypatch.setenv("VULNSIGHT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="VULNSIGHT_CONFIG"):
        discover_config(None, repo)


def test_xdg_user_config(tmp_path, monkeypatch):
    repo = repo_with(tmp_path, "min_confidence = 0.2\n")
    (tmp_path / "xdg" / "vulnsight").mkdir(parents=True)
    (tmp_path / "xdg" / "vulnsight" / "config.toml").write_text("min_confidence = 0.7\n")
    monkeypatch.delenv("VULNSIGHT_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert discover_config(None, repo).scan_config().min_confidence == 0.7


def test_thresholds_and_sizes_are_limited(tmp_path):
    repo = repo_with(
        tmp_path,
        "min_confidence = 1.0\nllm_threshold = 0.99\nbudget_tokens = 256\n"
        "max_file_size = 1\njobs = 64\n",
    )
    project = discover_config(None, repo)
    config = project.scan_config()
    assert config.min_confidence == 0.3 and config.llm_threshold == 0.8
    assert config.budget_tokens == 2048 and config.max_file_bytes == 200_000
    assert config.jobs <= (os.cpu_count() or 1)
    assert {k: v for k, v in effects(project).items()} == {
        "min_confidence": "limited",
        "llm_threshold": "limited",
        "budget_tokens": "limited",
        "max_file_size": "limited",
        "jobs": "limited" if (os.cpu_count() or 1) < 64 else "applied",
    }
    # A flag overrides the repository, and the effect then no longer applies.
    flagged = project.scan_config({"min_confidence": 0.0})
    assert "min_confidence" not in {e.key for e in project.effects_for(flagged)}


def test_whole_tree_excludes_are_refused(tmp_path):
    for patterns in (["**"], ["*"], ["*.*"], ["**/*"], ["./**"]):
        assert matches_everything(patterns), patterns
    assert not matches_everything(["vendor/**", "*.min.js"])
    repo = repo_with(tmp_path, 'exclude = ["**", "vendor/**"]\n')
    assert discover_config(None, repo).scan_config().exclude == ("vendor/**",)
    each = ", ".join(f'"*.{e}"' for e in ("py", "c", "h", "cpp", "js", "ts", "tsx", "sol"))
    (repo / "vulnsight.toml").write_text(f"exclude = [{each}]\n")
    assert discover_config(None, repo).scan_config().exclude == ()


def test_rules_cannot_be_turned_off_the_model_can(tmp_path):
    repo = repo_with(tmp_path, 'detectors = ["llm"]\n')
    assert discover_config(None, repo).scan_config().detectors == ("rules", "llm")
    (repo / "vulnsight.toml").write_text('detectors = ["rules"]\n')
    assert discover_config(None, repo).scan_config().detectors == ("rules",)


def test_state_paths_and_self_allowing_are_ignored(tmp_path):
    repo = repo_with(
        tmp_path,
        f'state_dir = "{tmp_path}/evil"\ncache_dir = ".x"\nallow_repo_model = true\n'
        'model = "http://127.0.0.1:9/v1#x"\n',
    )
    project = discover_config(None, repo)
    assert project.settings.state_dir is None and not project.settings.allow_repo_model
    assert project.scan_config().model is None  # a repository cannot allow itself
    assert effects(project) == {
        "state_dir": "ignored",
        "cache_dir": "ignored",
        "allow_repo_model": "ignored",
        "model": "refused",
    }
    assert str(tmp_path / "evil") not in str(project.state_dir)


@pytest.mark.parametrize("name", ["../outside.json", "/etc/passwd", "link.json", "fifo"])
def test_baseline_must_be_a_file_inside_the_repository(tmp_path, name):
    repo = repo_with(tmp_path, f"baseline = {name!r}\n")
    (tmp_path / "outside.json").write_text("{}")
    (repo / "link.json").symlink_to(tmp_path / "outside.json")
    os.mkfifo(repo / "fifo")
    project = discover_config(None, repo)
    assert project.baseline is None and effects(project)["baseline"] == "refused"


def test_blanket_ignores_are_refused_selective_ones_kept(tmp_path):
    repo = repo_with(
        tmp_path,
        '[[ignore]]\npaths = ["**"]\n[[ignore]]\npaths = ["*"]\ncwes = ["CWE-89"]\n'
        '[[ignore]]\npaths = ["tests/**"]\n',
    )
    project = discover_config(None, repo)
    assert [(r.paths, r.cwes) for r in project.ignores] == [
        (("*",), ("CWE-89",)),
        (("tests/**",), ()),
    ]
    assert effects(project)["ignore"] == "refused"


def test_server_host_from_repository_is_loopback_only(tmp_path):
    repo = repo_with(tmp_path, '[server]\nhost = "0.0.0.0"\nport = 9000\n')
    server = discover_config(None, repo).settings.server
    assert (server.host, server.port) == ("127.0.0.1", 9000)


def test_server_body_limit_from_repository_is_capped(tmp_path):
    """`vulnsight serve` in a hostile checkout: the repository cannot lift the request
    body limit (each connection reads its body into memory)."""
    repo = repo_with(tmp_path, '[server]\nhost = "0.0.0.0"\nmax_request_bytes = 100000000000\n')
    project = discover_config(None, repo)
    server = project.settings.server
    assert (server.host, server.max_request_bytes) == ("127.0.0.1", 16_000_000)
    assert effects(project)["server.max_request_bytes"] == "limited"
    assert effects(project)["server.host"] == "refused"
    modest = discover_config(
        None, repo_with(tmp_path / "b", "[server]\nmax_request_bytes = 4096\n")
    )
    assert modest.settings.server.max_request_bytes == 4096


def test_config_flag_inside_the_tree_is_untrusted_outside_trusted(tmp_path):
    repo = repo_with(tmp_path, "")
    (repo / "ci").mkdir()
    (repo / "ci" / "scan.toml").write_text('model = "http://127.0.0.1:9/v1#x"\n')
    inside = discover_config(repo / "ci" / "scan.toml", repo)
    assert inside.scan_config().model is None and inside.source_label == "ci/scan.toml"
    outside = tmp_path / "scan.toml"
    outside.write_text('model = "http://127.0.0.1:9/v1#x"\n')
    trusted = discover_config(outside, repo)
    assert trusted.scan_config().model == "http://127.0.0.1:9/v1#x" and not trusted.effects


def test_a_config_link_out_of_the_repository_is_refused(tmp_path):
    secret = tmp_path / "secret.toml"
    secret.write_text('token = "hunter2"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "vulnsight.toml").symlink_to(secret)
    with pytest.raises(ConfigError, match="outside the scanned repository") as err:
        discover_config(None, repo)
    assert "hunter2" not in str(err.value)


def test_huge_config_is_refused(tmp_path):
    repo = repo_with(tmp_path, "# " + "x" * (2 << 20) + "\n", "pyproject.toml")
    with pytest.raises(ConfigError, match="larger than"):
        discover_config(None, repo)


def test_outside_a_repository_parents_are_not_searched(tmp_path):
    (tmp_path / "vulnsight.toml").write_text('model = "http://127.0.0.1:9/v1#x"\n')
    (tmp_path / "checkout").mkdir()
    found, root = find(tmp_path / "checkout")
    assert found is None and root == (tmp_path / "checkout").resolve()
    # Inside a repository, the search stops at its root.
    (tmp_path / "checkout" / ".git").mkdir()
    (tmp_path / "checkout" / "src").mkdir()
    assert find(tmp_path / "checkout" / "src")[0] is None


def test_unicode_lookalike_keys_are_unknown(tmp_path):
    with pytest.raises(ConfigError, match="unknown key"):
        parse({"m\u043edel": "http://evil/v1"})  # Cyrillic o
    with pytest.raises(ConfigError, match="unknown key"):
        parse({"model\u200b": "http://evil/v1"})  # zero-width space


def test_limit_is_pure_and_lists_applied_keys(tmp_path):
    settings = parse({"jobs": 1, "cache": False, "include": ["src/**"]})
    out = limit(settings, "vulnsight.toml", tmp_path, allow_model=False)
    assert out.settings == settings
    assert {(e.key, e.action) for e in out.effects} == {("cache", "applied"), ("jobs", "applied")}


def test_hostile_toml_is_a_clear_error(tmp_path):
    repo = repo_with(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        discover_config(None, repo)
    (repo / "vulnsight.toml").write_text('"\\u001b[2Jmodel" = 1\n')
    with pytest.raises(ConfigError) as err:
        discover_config(None, repo)
    assert "\x1b" not in str(err.value) and "\\x1b[2Jmodel" in str(err.value)


def test_a_user_config_inside_the_scanned_tree_is_not_trusted(tmp_path, monkeypatch):
    home = repo_with(tmp_path, 'model = "http://127.0.0.1:9/v1#x"\n')
    (home / ".config" / "vulnsight").mkdir(parents=True)
    (home / ".config" / "vulnsight" / "config.toml").write_text("allow_repo_model = true\n")
    monkeypatch.delenv("VULNSIGHT_CONFIG")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    project = discover_config(None, home)
    assert project.scan_config().model is None
    assert effects(project)["user configuration"] == "ignored"
