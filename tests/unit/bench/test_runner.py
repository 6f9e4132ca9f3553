"""The runner: eligibility, per-sample predictions on disk, resume after an interruption."""

from __future__ import annotations

import json

from vulnsight.bench.adapters.baselines import FlagAll
from vulnsight.bench.adapters.interface import AdapterError, Prediction
from vulnsight.bench.records import Record
from vulnsight.bench.runner import Runner


def records(n=6):
    return [
        Record(
            id=f"r{i}",
            language="python" if i % 2 else "c",
            code="x = 1\n",
            label=i % 2,
            source="s" if i < 4 else "semgrep_rules_tests",
            project="p",
        )
        for i in range(n)
    ]


class Counting(FlagAll):
    """flag-all that counts calls, chunks of 2, Python only, not on semgrep tests."""

    languages = frozenset({"python"})
    excluded_sources = frozenset({"semgrep_rules_tests"})
    chunk_size = 1

    def __init__(self, fail_on=None):
        super().__init__()
        self.name = "counting"
        self.calls = 0
        self.fail_on = fail_on

    def run(self, batch, recs):
        self.calls += 1
        if self.fail_on and any(r.id == self.fail_on for r in recs):
            raise AdapterError("boom")
        assert all((batch.root / batch.paths[r.id]).is_file() for r in recs)
        return [Prediction(r.id, True, 0.9) for r in recs]


def test_eligibility_predictions_and_resume(tmp_path):
    recs = records()
    adapter = Counting()
    out = Runner(tmp_path, isolate=False).run([adapter], recs)
    preds = out.predictions[("counting", "none")]
    assert sorted(preds) == ["r1", "r3"]  # python, not semgrep_rules_tests
    assert out.not_scored["counting"] == {"language c": 3, "fitted to semgrep_rules_tests": 1}
    assert adapter.calls == 2
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert {json.loads(x)["record_id"] for x in lines} == {"r1", "r3"}
    # Latency not given by the adapter: the chunk's wall time is shared out.
    assert all(p.latency_ms is not None and not p.latency_measured for p in preds.values())
    again = Counting()
    out2 = Runner(tmp_path, isolate=False).run([again], recs)
    assert again.calls == 0  # everything resumed from disk
    resumed = out2.predictions[("counting", "none")]
    assert {k: (p.predicted, p.score) for k, p in resumed.items()} == {
        k: (p.predicted, p.score) for k, p in preds.items()
    }


def test_a_failed_chunk_is_kept_as_errors_and_others_go_on(tmp_path):
    out = Runner(tmp_path, isolate=False).run([Counting(fail_on="r1")], records())
    preds = out.predictions[("counting", "none")]
    assert preds["r1"].error == "boom" and not preds["r1"].predicted
    assert preds["r3"].predicted


def test_forked_children_measure_cpu_and_memory(tmp_path):
    out = Runner(tmp_path, isolate=True).run([Counting()], records())
    assert sorted(out.predictions[("counting", "none")]) == ["r1", "r3"]
    assert all(u.peak_rss_mb > 0 for u in out.usage)


def test_perturbed_variants_run_only_where_they_apply(tmp_path):
    recs = records()
    out = Runner(tmp_path, isolate=False).run([Counting()], recs, {"rename": {"r1": "y = 1\n"}})
    assert sorted(out.predictions[("counting", "rename")]) == ["r1"]


class Versioned(Counting):
    """`Counting` whose predictions depend on a code version it names."""

    def __init__(self, version):
        super().__init__()
        self.version = version

    def fingerprint(self):
        return self.version


def test_a_changed_fingerprint_reruns_and_the_same_one_resumes(tmp_path):
    recs = records()
    first = Versioned("v1")
    Runner(tmp_path, isolate=False).run([first], recs)
    assert first.calls == 2
    same = Versioned("v1")
    Runner(tmp_path, isolate=False).run([same], recs)
    assert same.calls == 0  # the same code: resumed from disk
    changed = Versioned("v2")
    out = Runner(tmp_path, isolate=False).run([changed], recs)
    assert changed.calls == 2  # other code: nothing reused
    assert sorted(out.predictions[("counting", "none")]) == ["r1", "r3"]


def test_the_vulnsight_adapter_fingerprints_the_installed_code(tmp_path, monkeypatch):
    import vulnsight
    from vulnsight.bench.adapters import vulnsight_detectors as vd

    package = tmp_path / "vulnsight"
    (package / "rules").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "rules" / "pack.yaml").write_text("rules: []\n")
    monkeypatch.setattr(vulnsight, "__file__", str(package / "__init__.py"))
    vd.source_digest.cache_clear()
    before = vd.VulnsightAdapter("rules").fingerprint()
    (package / "rules" / "pack.yaml").write_text("rules: [x]\n")
    vd.source_digest.cache_clear()
    after = vd.VulnsightAdapter("rules").fingerprint()
    vd.source_digest.cache_clear()
    assert before != after and len(before) == 12
