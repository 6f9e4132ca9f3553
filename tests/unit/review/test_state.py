"""Scanner state outside the tree, and stores that degrade instead of failing a scan."""

from __future__ import annotations

from pathlib import Path

from vulnsight.review.cache import GuardedCache, VerdictCache
from vulnsight.review.interface import CachedVerdict
from vulnsight.review.state import inside, repo_key, state_dir_for
from vulnsight.types import Function


def fn(name: str = "f") -> Function:
    return Function("a.py", "python", name, 1, 2, f"def {name}(x):\n    return x", "")


def test_state_dir_is_per_repository_and_outside_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VULNSIGHT_STATE_DIR", str(tmp_path / "state"))
    a, b = tmp_path / "a" / "repo", tmp_path / "b" / "repo"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    assert state_dir_for(a) != state_dir_for(b)
    assert state_dir_for(a).parent == tmp_path / "state" / "repos"
    assert repo_key(a).startswith("repo-") and not inside(state_dir_for(a), a)
    monkeypatch.delenv("VULNSIGHT_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir_for(a).parent == tmp_path / "xdg" / "vulnsight" / "repos"
    assert state_dir_for(a, str(tmp_path / "mine")).parent == tmp_path / "mine" / "repos"


def test_guarded_cache_round_trip(tmp_path):
    cache = GuardedCache(tmp_path / "c.sqlite3")
    cache.put_many("m", {fn(): CachedVerdict(0.7, "CWE-78", 1)})
    assert cache.get_many("m", [fn()]) == {fn().qualified_id: CachedVerdict(0.7, "CWE-78", 1)}
    assert cache.problems == []
    cache.close()


def test_not_a_database_is_dropped_with_a_warning(tmp_path):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    cache = GuardedCache(path)
    assert cache.get_many("m", [fn()]) == {}
    cache.put_many("m", {fn(): CachedVerdict(0.1)})  # no exception
    assert len(cache.problems) == 1 and "unusable" in cache.problems[0]


def test_failed_writes_turn_storing_off_reads_go_on(tmp_path):
    path = tmp_path / "c.sqlite3"
    cache = GuardedCache(path)
    cache.put_many("m", {fn(): CachedVerdict(0.2)})
    assert cache._store is not None
    cache._store._conn.execute("PRAGMA query_only = ON")  # as a read-only file behaves
    cache.put_many("m", {fn("g"): CachedVerdict(0.3)})
    cache.put_many("m", {fn("h"): CachedVerdict(0.3)})
    assert len(cache.problems) == 1 and "cannot be written" in cache.problems[0]
    assert fn().qualified_id in cache.get_many("m", [fn()])


def test_rows_this_cache_could_not_have_written_are_ignored(tmp_path):
    path = tmp_path / "c.sqlite3"
    store = VerdictCache(path)
    store.put_many("m", {fn("a"): CachedVerdict(0.5), fn("b"): CachedVerdict(0.9, "CWE-1", 2)})
    store._conn.execute("UPDATE verdicts SET p_vulnerable = 7.0 WHERE cwe IS NULL")
    store._conn.execute("UPDATE verdicts SET cwe = 'x</code>' WHERE cwe IS NOT NULL")
    assert store.get_many("m", [fn("a"), fn("b")]) == {}
    store.close()


def test_corrupt_page_mid_scan_degrades(tmp_path):
    path = tmp_path / "c.sqlite3"
    store = VerdictCache(path)
    store.put_many("m", {fn(f"f{i}"): CachedVerdict(0.5) for i in range(2000)})
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(path.read_bytes())
    data[8192:16384] = b"\xee" * 8192
    path.write_bytes(bytes(data))
    cache = GuardedCache(path)
    assert cache.get_many("m", [fn(f"f{i}") for i in range(2000)]) == {} or cache.problems
    cache.put_many("m", {fn("new"): CachedVerdict(0.1)})
    assert cache.problems
    assert isinstance(Path(path), Path)
