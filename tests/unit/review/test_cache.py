"""The verdict cache: keys, the LLM detector's use of it, resume and concurrency."""

from __future__ import annotations

import threading

import pytest

from vulnsight.config import ScanConfig
from vulnsight.detectors.llm import LLMDetector, LLMOptions
from vulnsight.llm.fake import FakeBackend
from vulnsight.pipeline import scan
from vulnsight.review.cache import VerdictCache, function_key
from vulnsight.review.interface import CachedVerdict
from vulnsight.types import Function

CODE = """import os


def run(cmd):
    os.system(cmd)


def add(a, b):
    return a + b
"""


def responder(prompt):
    if "os.system" in prompt.body:
        line = next(int(ln.split("|")[0]) for ln in prompt.body.splitlines() if "os.system" in ln)
        return {"vulnerability": True, "type": "CWE-78", "line_number": line, "confidence": 0.9}
    return {"vulnerability": False, "type": "none", "line_number": 0, "confidence": 0.9}


def fn(code: str, start: int = 1, name: str = "f") -> Function:
    return Function("a.py", "python", name, start, start + code.count("\n"), code, "")


def _scan(root, cache):
    backend = FakeBackend(responder=responder)
    det = LLMDetector(backend, LLMOptions(threshold=0.5), cache=cache)
    return scan([root], ScanConfig(detectors=("llm",)), [det]), backend


def test_key_ignores_comments_whitespace_and_position_but_not_code_or_model():
    a = fn("def f(x):\n    return x  # fine\n", start=1)
    b = fn("def f(x):\n\n    return   x\n", start=40)
    c = fn("def f(x):\n    return -x\n")
    assert function_key("m", a) == function_key("m", b)
    assert function_key("m", a) != function_key("m", c)
    assert function_key("m", a) != function_key("other", a)
    assert function_key("m", a, "verdict_v1") != function_key("m", a, "verdict_v2")


def test_second_scan_asks_the_model_nothing_and_keeps_findings_after_a_shift(tmp_path):
    (tmp_path / "t.py").write_text(CODE)
    cache = VerdictCache(tmp_path / ".vulnsight" / "cache.sqlite3")
    first, backend = _scan(tmp_path, cache)
    assert len(backend.seen) == 2
    assert first.stats["cache_misses"] == 2 and first.stats["cache_hits"] == 0
    # Code above moves: lines shift, verdicts still apply at the new line.
    (tmp_path / "t.py").write_text("# header\n\n\n" + CODE)
    again, backend = _scan(tmp_path, cache)
    assert backend.seen == []
    assert again.stats["cache_hits"] == 2
    assert [(f.line_number, f.cwe, f.function) for f in first.findings] == [(5, "CWE-78", "run")]
    assert [(f.line_number, f.cwe, f.function) for f in again.findings] == [(8, "CWE-78", "run")]
    assert again.findings[0].fingerprint == first.findings[0].fingerprint


def test_changed_function_is_asked_again(tmp_path):
    (tmp_path / "t.py").write_text(CODE)
    cache = VerdictCache(tmp_path / "c.sqlite3")
    _scan(tmp_path, cache)
    (tmp_path / "t.py").write_text(CODE.replace("return a + b", "return a - b"))
    _, backend = _scan(tmp_path, cache)
    assert len(backend.seen) == 1 and "a - b" in backend.seen[0].body


def test_below_threshold_entry_without_cwe_is_a_miss_at_a_lower_threshold():
    v = CachedVerdict(0.3)
    assert v.answers(0.5) and not v.answers(0.2)
    assert CachedVerdict(0.9, "CWE-78", 1).answers(0.2)


def test_interrupted_scan_resumes_from_committed_chunks(tmp_path):
    for i in range(20):
        (tmp_path / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    path = tmp_path / "c.sqlite3"
    calls = 0

    def dying(prompt):
        nonlocal calls
        calls += 1
        if calls > 8:
            raise KeyboardInterrupt
        return {"vulnerability": False, "type": "none", "line_number": 0, "confidence": 0.9}

    det = LLMDetector(FakeBackend(responder=dying), cache=VerdictCache(path))
    with pytest.raises(KeyboardInterrupt):
        scan([tmp_path], ScanConfig(detectors=("llm",)), [det])
    report, backend = _scan(tmp_path, VerdictCache(path))
    assert report.stats["cache_hits"] == 8
    assert len(backend.seen) == 12


def test_two_writers_at_once(tmp_path):
    path = tmp_path / "c.sqlite3"
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            cache = VerdictCache(path)
            for i in range(50):
                f = fn(f"def f(x):\n    return {offset * 1000 + i}\n")
                cache.put_many("m", {f: CachedVerdict(0.1)})
                cache.get_many("m", [f])
            cache.close()
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(VerdictCache(path)) == 100
