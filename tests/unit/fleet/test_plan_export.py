"""The fleet's pure planning (repository lists, slugs, done-markers, progress line),
the summary, the bare-mirror export (nothing of the mirror runs) and the remote
backend's retries, without Ray."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from vulnsight.errors import ConfigError
from vulnsight.fleet.export import export_head
from vulnsight.fleet.plan import DONE_MARKER, Progress, expand_repos, is_done, repo_dir
from vulnsight.fleet.remote import ModelWorker, RemoteBackend, WorkerLost, worker_spec
from vulnsight.fleet.summary import finding_rows, overview
from vulnsight.llm.prompt import Prompt


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def committed(repo: Path, files: dict[str, str]) -> Path:
    repo.mkdir(parents=True)
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "c")
    return repo


def test_expand_repos_reads_listings_keeps_order_and_drops_repeats(tmp_path: Path) -> None:
    a = committed(tmp_path / "a", {"x.py": "x = 1\n"})
    committed(tmp_path / "team" / "a", {"y.py": "y = 1\n"})
    git(tmp_path, "clone", "-q", "--bare", str(a), str(tmp_path / "a.git"))
    listing = tmp_path / "list.txt"
    listing.write_text("# org\n\nteam/a\na.git\n  a  \n")
    repos = expand_repos([a, listing])
    assert [(Path(r.path).relative_to(tmp_path).as_posix(), r.kind) for r in repos] == [
        ("a", "checkout"),
        ("team/a", "checkout"),
        ("a.git", "bare"),
    ]
    assert repos[2].name == "a"
    assert len({r.slug for r in repos}) == 3  # two repositories called `a` do not collide
    with pytest.raises(ConfigError, match="not a repository directory"):
        expand_repos([tmp_path / "missing"])


def test_done_marker_counts_only_for_the_same_source(tmp_path: Path) -> None:
    repo = expand_repos([committed(tmp_path / "r", {"x.py": "x = 1\n"})])[0]
    out = tmp_path / "out"
    assert not is_done(out, repo)
    marker = repo_dir(out, repo) / DONE_MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("{not json")
    assert not is_done(out, repo)
    marker.write_text(json.dumps({"source": "/elsewhere"}))
    assert not is_done(out, repo)
    marker.write_text(json.dumps({"source": repo.path}))
    assert is_done(out, repo)


def test_progress_line() -> None:
    line = Progress(3, 10, 1234, 30.0, 2).line()
    assert line == "fleet: 3/10 repositories, 1,234 functions, 41.1 functions/s, ETA 0:01:45"
    assert Progress(10, 10, 5, 1.0, 10).line().endswith("ETA done")


def test_export_head_runs_no_filter_of_the_mirror_and_skips_links(tmp_path: Path) -> None:
    repo = committed(
        tmp_path / "src",
        {
            "app.py": "import os\n",
            "pkg/lib.c": "int f(void);\n",
            ".gitattributes": "* filter=evil\n",
        },
    )
    (repo / "link.py").symlink_to("app.py")
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "link")
    mirror = tmp_path / "m.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(mirror))
    pwned = tmp_path / "pwned"
    git(mirror, "config", "filter.evil.smudge", f"touch {pwned}; cat")
    git(mirror, "config", "core.fsmonitor", f"touch {pwned}")
    dest = tmp_path / "export"
    dest.mkdir()
    assert export_head(mirror, dest) == 3
    assert (dest / "app.py").read_text() == "import os\n"
    assert (dest / "pkg" / "lib.c").read_text() == "int f(void);\n"
    assert not (dest / "link.py").exists()
    assert not pwned.exists()


def test_summary_counts_per_cwe_and_language_and_escapes_repository_text() -> None:
    meta = {
        "name": "web|app",
        "slug": "web-1",
        "functions": 4,
        "findings": 2,
        "file_times": {"a.py": 1_700_000_000},
    }
    report = {
        "findings": [
            {
                "file": "a.py",
                "line_number": 3,
                "cwe": "CWE-78",
                "confidence": 0.8,
                "severity": "high",
                "detectors": ["rules"],
                "suppressed": False,
            },
            {
                "file": "b.js",
                "line_number": 9,
                "cwe": "CWE-95",
                "confidence": 0.95,
                "severity": "high",
                "detectors": ["rules", "llm"],
                "suppressed": False,
            },
            {
                "file": "c.c",
                "line_number": 1,
                "cwe": "CWE-120",
                "confidence": 0.5,
                "severity": "medium",
                "detectors": ["llm"],
                "suppressed": True,
            },
        ]
    }
    rows = finding_rows(meta, report)
    assert [(r["language"], r["committed"]) for r in rows] == [
        ("python", 1_700_000_000),
        ("javascript", None),
        ("c", None),
    ]
    text = overview([meta], rows, {"model": "fake"})
    assert "| web\\|app | 4 | 2 |" in text
    assert "| CWE-78 | 1 | 1 |" in text and "| CWE-120 |" not in text  # suppressed
    assert "| python | 1 | 1 |" in text and "| javascript | 1 | 1 |" in text
    newest = text.split("## Newest")[1].split("## Most confident")[0]
    assert "a.py:3" in newest and "b.js" not in newest  # no commit time known for b.js
    confident = text.split("## Most confident")[1]
    assert confident.index("b.js:9") < confident.index("a.py:3")


def test_remote_backend_retries_a_lost_worker_and_completes_on_the_decider() -> None:
    workers = [ModelWorker("fake"), ModelWorker("fake")]
    lost = {"left": 1}

    def call(index: int, method: str, *args):
        if method == "decide" and index == 0 and lost["left"]:
            lost["left"] -= 1
            workers[0] = ModelWorker("fake")  # Ray restarts it: its state is gone
            raise WorkerLost("actor died")
        return getattr(workers[index], method)(*args)

    backend = RemoteBackend("fake", 2, call, attempts=3, first=0)  # describe: worker 0
    prompts = [Prompt("prefix", f"body {i}") for i in range(3)]
    decisions = backend.decide(prompts)  # worker 1 (round robin)
    assert [round(d.p_vulnerable, 2) for d in decisions] == [0.9, 0.9, 0.9]
    assert len(backend.complete_flagged(prompts)) == 3
    assert workers[1].calls == 2 and workers[0].calls == 0
    decided = backend.decide(prompts[:1])  # worker 0 dies once: sent again, to worker 1
    assert len(decided) == 1 and backend.retried == 1
    fresh = ModelWorker("fake")  # a restarted worker asked for a prompt it never decided
    assert len(fresh.complete_flagged(prompts[:1])) == 1
    assert backend.count_tokens("a b c") == 3


def test_gpu_workers_run_transformers_only_where_the_model_runs_there_as_trained() -> None:
    assert worker_spec("base", 0) == "base"
    assert worker_spec("base", 1) == "transformers:base"
    assert worker_spec("llamacpp:base", 0.5) == "transformers:base"
    assert worker_spec("fake", 1) == "fake"
    # the shipped default is a decision head on llama.cpp's logits: it stays there
    assert worker_spec(None, 1) is None and worker_spec("default", 1) == "default"
