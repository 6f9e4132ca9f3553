"""The review workflow's scan: the model loads only when a function is not cached."""

from __future__ import annotations

from vulnsight.review.config_file import ProjectConfig
from vulnsight.review.workflow import ReviewOptions, review_scan


def test_fully_cached_rescan_never_loads_the_model(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("def f(x):\n    return x\n\n\ndef g(y):\n    return y\n")
    project = ProjectConfig(root=tmp_path)
    config = project.scan_config({"detectors": ("llm",), "model": "fake", "gate": "off"})
    first = review_scan([src], project, config, ReviewOptions())
    again = review_scan([src], project, config, ReviewOptions())
    assert (first.stats["model_loaded"], first.stats["cache_misses"]) == (1, 2)
    assert (again.stats["model_loaded"], again.stats["cache_hits"]) == (0, 2)
    assert again.stats["cache_hit_rate"] == 1.0
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in first.findings]
    # The cache is in the per-user state directory, never in the scanned tree.
    assert (project.state_dir / "cache.sqlite3").is_file()
    assert not (tmp_path / ".vulnsight").exists()
