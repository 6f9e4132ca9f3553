"""Model worker processes: same findings and scores with one process or several."""

from __future__ import annotations

from vulnsight.detectors import model_workers
from vulnsight.detectors.workers import threads_per_worker
from vulnsight.review.config_file import ProjectConfig
from vulnsight.review.workflow import ReviewOptions, review_scan

C_FILE = """\
#include <string.h>

void copy(char *dst, const char *src) {
    strcpy(dst, src);
}

int get_len(const struct buf *b) {
    return b->len;
}

int total(const int *xs, int n) {
    int t = 0;
    for (int i = 0; i < n; i++) {
        t += xs[i];
    }
    return t;
}
"""

JS_FILE = """\
function run(input) {
  return eval(input);
}

function add(a, b) {
  return a + b;
}
"""


def _scan(root, jobs: int):
    project = ProjectConfig(root=root)
    config = project.scan_config({"detectors": ("llm",), "model": "fake", "jobs": jobs})
    return review_scan([root / "src"], project, config, ReviewOptions(use_cache=False))


def test_two_worker_processes_give_the_same_findings_as_one(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):  # enough functions for several chunks
        (src / f"m{i}.c").write_text(C_FILE)
        (src / f"w{i}.js").write_text(JS_FILE)
    one = _scan(tmp_path, 1)
    two = _scan(tmp_path, 2)
    assert one.stats["model_workers"] == 1
    assert two.stats["model_workers"] == 2
    found = [(f.file, f.line_number, f.function, f.cwe, f.confidence) for f in one.findings]
    assert found == [(f.file, f.line_number, f.function, f.cwe, f.confidence) for f in two.findings]
    # the scripted model flags every function it is asked about: the judged ones
    assert sorted({(f.file, f.function) for f in one.findings}) == sorted(
        [(f"m{i}.c", name) for i in range(3) for name in ("copy", "total")]
        + [(f"w{i}.js", "run") for i in range(3)]
    )
    for key in ("model_functions_judged", "model_functions_skipped", "model_tokens"):
        assert one.stats[key] == two.stats[key], key
    assert one.stats["model_functions_skipped"] == 6  # get_len and add, three times


def test_worker_counts_follow_cores_and_model_kind():
    assert model_workers(1, "fake", cores=8) == 1
    assert model_workers(4, "fake", cores=2) == 2
    assert model_workers(4, "fake", cores=8) == 4
    assert model_workers(4, "http://127.0.0.1:8080/v1#m", cores=8) == 1  # one endpoint
    assert threads_per_worker(2, cores=8) == 4
    assert threads_per_worker(4, cores=2) == 1


def test_a_fully_cached_rescan_with_workers_asks_nobody(tmp_path, monkeypatch):
    from vulnsight.detectors import llm

    src = tmp_path / "src"
    src.mkdir()
    (src / "m.c").write_text(C_FILE)
    project = ProjectConfig(root=tmp_path)
    config = project.scan_config({"detectors": ("llm",), "model": "fake", "jobs": 2})
    first = review_scan([src], project, config, ReviewOptions())
    started: list[int] = []
    monkeypatch.setattr(llm.LLMDetector, "_pool", lambda self: started.append(1))
    again = review_scan([src], project, config, ReviewOptions())
    assert started == []  # no worker process was started
    assert (again.stats["model_loaded"], again.stats["cache_hits"]) == (0, 2)
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in first.findings]
