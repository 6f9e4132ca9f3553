"""`vulnsight fleet` on a real local Ray instance (2 CPUs), with the rules and the fake
model: each repository's report equals `vulnsight scan` on it, identical vendored
functions are judged once, and a model actor killed mid-run changes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.fleet_repos import git, make_repos, vulnsight_scan

ray = pytest.importorskip("ray")

from vulnsight.fleet.plan import REPORT_JSON, REPORT_SARIF, expand_repos, repo_dir  # noqa: E402
from vulnsight.fleet.runner import FleetOptions, Hooks, run_fleet  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.semgrep, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    state = tmp_path_factory.mktemp("ray-state")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        log_to_driver=False,
        runtime_env={"env_vars": {"VULNSIGHT_CONFIG": "", "VULNSIGHT_STATE_DIR": str(state)}},
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    base = tmp_path_factory.mktemp("org")
    made = make_repos(base)
    mirror = base / "alpha-mirror.git"
    git(base, "clone", "-q", "--bare", str(made[0]), str(mirror))
    return [*made, mirror]


@pytest.fixture(scope="module")
def expected(repos):
    """`vulnsight scan` of each checkout (the mirror's reference is alpha's checkout)."""
    out = {}
    for repo in repos[:3]:
        report, sarif = vulnsight_scan(repo), vulnsight_scan(repo, "sarif")
        out[repo.name] = (json.loads(report), json.loads(sarif))
    out[repos[3].name] = out[repos[0].name]
    return out


def options(out: Path) -> FleetOptions:
    return FleetOptions(out=out, flags={"model": "fake"}, workers=1, repo_cpus=0.5)


def reports(out: Path, repos) -> dict[str, tuple[dict, dict]]:
    got = {}
    for source in expand_repos(repos):
        folder = repo_dir(out, source)
        got[Path(source.path).name] = (
            json.loads((folder / REPORT_JSON).read_text()),
            json.loads((folder / REPORT_SARIF).read_text()),
        )
    return got


def sarif_results(sarif: dict) -> list[dict]:
    return sarif["runs"][0]["results"]


def test_fleet_reports_equal_vulnsight_scan_per_repository(local_ray, repos, expected, tmp_path):
    result = run_fleet(expand_repos(repos), options(tmp_path / "out"))
    assert not result.failed and len(result.scanned) == 4
    got = reports(tmp_path / "out", repos)
    for name, (json_ref, sarif_ref) in expected.items():
        assert got[name][0]["findings"] == json_ref["findings"], name
        assert got[name][0]["errors"] == json_ref["errors"], name
        assert sarif_results(got[name][1]) == sarif_results(sarif_ref), name
    # rules and the model both reported, in the merged (hybrid) shape
    alpha = {
        (f["file"], f["line_number"], f["cwe"], tuple(f["detectors"]))
        for f in got["alpha"][0]["findings"]
    }
    assert alpha == {
        ("app.py", 5, "CWE-78", ("rules", "llm")),
        ("vendor/strlib.c", 4, "CWE-120", ("rules", "llm")),
    }
    # vendor_copy is in all four repositories and alpha's code in two: the model judged
    # each once (or twice when a later repository got there first), the rest reused it
    stats = [r[0]["stats"] for r in got.values()]
    judged = sum(s["model_functions_judged"] for s in stats)
    reused = sum(s["cache_hits"] for s in stats)
    assert reused == result.ledger["hits"] + result.ledger["waited_hits"] >= 2
    assert judged == result.ledger["stored"] + result.ledger["judged_twice"]
    assert judged + reused == result.ledger["lookups"]
    rows = [json.loads(line) for line in (tmp_path / "out" / "findings.jsonl").open()]
    assert len(rows) == sum(len(r[0]["findings"]) for r in got.values())
    assert {r["repository"] for r in rows} == {"alpha", "beta", "gamma", "alpha-mirror"}
    overview = (tmp_path / "out" / "overview.md").read_text()
    assert "## Findings per CWE" in overview and "| CWE-78 |" in overview


def test_killed_model_actor_is_restarted_and_nothing_is_lost(local_ray, repos, expected, tmp_path):
    handles: list = []
    killed: list[int] = []

    def kill_first_worker(_repo) -> None:
        if not killed:  # mid-run: the other repositories are still being scanned
            killed.append(ray.get(handles[0].pid.remote()))
            ray.kill(handles[0], no_restart=False)

    hooks = Hooks(on_workers=handles.extend, on_done=kill_first_worker)
    result = run_fleet(expand_repos(repos), options(tmp_path / "out"), hooks)
    assert killed and not result.failed and len(result.scanned) == 4
    assert ray.get(handles[0].pid.remote()) != killed[0]  # Ray restarted the actor
    got = reports(tmp_path / "out", repos)
    for name, (json_ref, _) in expected.items():
        findings = got[name][0]["findings"]
        assert findings == json_ref["findings"], name
        keys = [(f["file"], f["line_number"], f["cwe"], f["rule_id"]) for f in findings]
        assert len(keys) == len(set(keys)), name  # no duplicated result
