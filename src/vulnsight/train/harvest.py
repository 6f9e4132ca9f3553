"""Presumed-clean functions from mature packages, as label-0 training records.

Mature, widely used code is the best available stand-in for "ordinary code a scanner
must stay quiet on": without it a detector learns that every function is suspicious.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from vulnsight.discover import DEFAULT_EXCLUDES
from vulnsight.languages import language_of
from vulnsight.parse import extract
from vulnsight.train.data import is_reserved
from vulnsight.types import SourceFile

_SKIP_PARTS = {
    "test",
    "tests",
    "testing",
    "__tests__",
    "spec",
    "examples",
    "benchmarks",
    "_vendor",
    "vendor",
    "third_party",
    "dependencies",
}
# Packages often carry copies of others (Solidity packages vendor OpenZeppelin): a file
# that names a reserved project in its path or its licence header is not harvested.
_RESERVED_MARKERS = ("openzeppelin",)


def _vendors_reserved(rel: str, text: str) -> bool:
    head = (rel + "\n" + text[:2000]).lower()
    return any(marker in head for marker in _RESERVED_MARKERS)


def _files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in DEFAULT_EXCLUDES and d.lower() not in _SKIP_PARTS
        )
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if language_of(path) and not name.startswith("test_") and ".min." not in name:
                yield path


def harvest(
    root: Path,
    project: str,
    per_project: int,
    seed: int = 0,
    min_lines: int = 3,
    max_lines: int = 120,
    max_chars: int = 6000,
) -> list[dict[str, Any]]:
    """Up to `per_project` functions of `root` as shared-schema records (label 0)."""
    if is_reserved(project):
        raise ValueError(f"{project} is reserved for evaluation; never train on it")
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in _files(root):
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        rel = path.relative_to(root).as_posix()
        if len(text) > 400_000 or _vendors_reserved(rel, text):
            continue
        lang = language_of(path)
        assert lang is not None
        for fn in extract(SourceFile(rel, lang, text)):
            n = fn.end_line - fn.start_line + 1
            if fn.kind == "toplevel" or not min_lines <= n <= max_lines:
                continue
            if len(fn.code) > max_chars:
                continue
            digest = hashlib.sha256(fn.code.encode()).hexdigest()[:12]
            key = f"clean:{project}:{rel}:{fn.start_line}:{digest}"
            if key in seen:  # the same definition twice (preprocessor branches)
                continue
            seen.add(key)
            records.append(
                {
                    "id": key,
                    "language": lang,
                    "code": fn.code,
                    "label": 0,
                    "cwe": None,
                    "lines": [],
                    "source": "mature-clean",
                    "project": project,
                    "path": rel,
                    "meta": {"function": fn.name, "presumed_clean": True},
                }
            )
    random.Random(f"{seed}:{project}").shuffle(records)
    return records[:per_project]


def harvest_many(
    roots: Sequence[tuple[str, Path]], per_project: int, seed: int = 0
) -> list[dict[str, Any]]:
    """`harvest` over (project, directory) pairs."""
    out: list[dict[str, Any]] = []
    for project, root in roots:
        out.extend(harvest(root, project, per_project, seed))
    return out
