"""Changed line ranges from git, and which functions and findings they touch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vulnsight.errors import ConfigError
from vulnsight.review.diff import WHOLE_FILE, ChangeSet, changes_since, parse_unified_diff
from vulnsight.types import Finding, Function

DIFF = """diff --git a/src/a.py b/src/a.py
--- a/src/a.py
+++ b/src/a.py
@@ -3,0 +4,2 @@ def f():
+    x = 1
+    y = 2
@@ -10 +12 @@ def g():
-    return 1
+    return 2
@@ -20,3 +21,0 @@ def h():
-    a
-    b
-    c
diff --git a/gone.py b/gone.py
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-x
"""


def test_hunks_become_new_side_ranges_and_deletions_mark_the_gap():
    assert parse_unified_diff(DIFF) == {"src/a.py": [(4, 5), (12, 12), (21, 22)]}


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    (tmp_path / "a.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "init")
    return tmp_path


def test_working_tree_changes_and_untracked_files(repo: Path):
    (repo / "a.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 3\n")
    (repo / "new.py").write_text("x = 1\n")
    changes = changes_since("HEAD", repo)
    assert changes.lines_of(repo, "a.py") == ((6, 6),)
    assert changes.lines_of(repo, "new.py") == (WHOLE_FILE,)
    f = Function("a.py", "python", "f", 1, 2, "", "")
    g = Function("a.py", "python", "g", 5, 6, "", "")
    assert not changes.touches(repo, f) and changes.touches(repo, g)


def test_bad_ref_and_non_repository_are_config_errors(repo: Path, tmp_path_factory):
    with pytest.raises(ConfigError):
        changes_since("no-such-ref", repo)
    with pytest.raises(ConfigError):
        changes_since("--output=/tmp/x", repo)
    with pytest.raises(ConfigError):
        changes_since("HEAD", tmp_path_factory.mktemp("plain"))


def test_findings_in_changed_functions_or_lines_are_held(tmp_path: Path):
    changes = ChangeSet("HEAD", {str((tmp_path / "a.py").resolve()): ((6, 6),)})
    g = Function("a.py", "python", "g", 5, 8, "", "")
    top = Function("a.py", "python", "<toplevel>", 1, 20, "", "", kind="toplevel")

    def at(line: int) -> Finding:
        return Finding("a.py", line, "CWE-78", "m", "rules", 0.5)

    assert changes.holds(tmp_path, at(6), [top])
    assert changes.holds(tmp_path, at(8), [g, top])
    assert not changes.holds(tmp_path, at(15), [g, top])


def test_a_checkouts_git_config_runs_nothing(tmp_path):
    """An untrusted checkout may carry its own .git/config: its fsmonitor hook and diff
    drivers must not run when `--diff` asks git what changed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("a = 1\n")
    (repo / ".gitattributes").write_text("*.py diff=evil\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "init")
    pwned = tmp_path / "pwned"
    _git(repo, "config", "core.fsmonitor", f"touch {pwned}-fsmonitor; false")
    _git(repo, "config", "diff.evil.textconv", f"touch {pwned}-textconv; cat")
    _git(repo, "config", "diff.evil.command", f"touch {pwned}-command; true")
    (repo / "a.py").write_text("a = 1\nb = 2\n")
    changes = changes_since("HEAD", repo)
    assert changes.lines_of(repo.resolve(), "a.py")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("pwned")) == []


def test_a_checkouts_filter_drivers_run_nothing(tmp_path):
    """`git diff REF` runs the `clean` filter (or `process`) that `.gitattributes` and the
    checkout's own .git/config name on changed working-tree files: none may run, whatever
    the driver is called, and the change is still seen."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("a = 1\n")
    (repo / "b.py").write_text("b = 1\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "init")
    (repo / ".gitattributes").write_text("a.py filter=evil\nb.py filter=x.y=z\n")
    pwned = tmp_path / "pwned"
    _git(repo, "config", "filter.evil.clean", f"touch {pwned}-clean; cat")
    _git(repo, "config", "filter.evil.required", "true")
    _git(repo, "config", "filter.x.y=z.process", f"touch {pwned}-process; false")
    (repo / "a.py").write_text("a = 1\nb = 2\n")
    (repo / "b.py").write_text("b = 1\nc = 2\n")
    changes = changes_since("HEAD", repo)
    assert changes.lines_of(repo.resolve(), "a.py") == ((2, 2),)
    assert changes.lines_of(repo.resolve(), "b.py") == ((2, 2),)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("pwned")) == []


def test_a_work_tree_pointing_elsewhere_is_refused(tmp_path):
    """A checkout's .git/config may name another work tree: `git diff` would then compare
    that tree, match no scanned file and pass the scan clean. It is an error instead."""
    repo = tmp_path / "repo"
    elsewhere = tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("a = 1\n")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "init")
    (repo / "a.py").write_text("a = 1\nb = 2\n")
    assert changes_since("HEAD", repo).lines_of(repo.resolve(), "a.py") == ((2, 2),)
    _git(repo, "config", "core.worktree", str(elsewhere))
    with pytest.raises(ConfigError, match="does not contain"):
        changes_since("HEAD", repo)
