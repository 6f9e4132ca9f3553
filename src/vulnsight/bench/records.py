"""Labelled records (the schema of shared/datasets): loading, sampling, snippet files.

Records enter from files we do not control, so they are validated with pydantic here,
once; everything downstream sees the frozen `Record`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import textwrap
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vulnsight.errors import ConfigError
from vulnsight.languages import CANONICAL_EXTENSION

#: Projects sealed for the final evaluation: never sampled unless asked for explicitly.
#: Matched on the last path component of `project`, case-insensitively.
RESERVED_PROJECTS: frozenset[str] = frozenset(
    {
        "openzeppelin-contracts",
        "openzeppelin",
        "express",
        "lodash",
        "axios",
        "koa",
        "requests",
        "flask",
        "click",
        "attrs",
        "zstd",
        "lz4",
        "brotli",
        "zlib",
        "pybind11",
        "simdjson",
        "fmt",
    }
)
#: Sources whose labels a peer was fitted to: `semgrep_rules_tests` are Semgrep's own
#: rule tests, so Semgrep-based detectors are never scored on them.
SEMGREP_FITTED_SOURCE = "semgrep_rules_tests"


class _RecordModel(BaseModel):
    """The validated shape of one JSONL line."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    language: str
    code: str
    label: int = Field(ge=0, le=1)
    cwe: str | None = None
    lines: list[int] = Field(default_factory=list)
    source: str = Field(min_length=1)
    project: str = ""
    path: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in CANONICAL_EXTENSION:
            raise ValueError(f"unknown language {value!r}")
        return value

    @field_validator("lines")
    @classmethod
    def _positive_lines(cls, value: list[int]) -> list[int]:
        if any(n < 1 for n in value):
            raise ValueError("lines are 1-based")
        return value


@dataclass(frozen=True)
class Record:
    """One labelled unit of code (a function, a contract member, a small file)."""

    id: str
    language: str
    code: str
    label: int
    source: str
    project: str
    cwe: str | None = None
    lines: tuple[int, ...] = ()
    path: str = ""
    pair_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def group(self) -> str:
        """The sampling unit: a vulnerable/fixed pair stays together."""
        return self.pair_id or self.id


def is_reserved(project: str, reserved: Iterable[str] = RESERVED_PROJECTS) -> bool:
    """Whether a project is sealed: its last path component, case-insensitively."""
    last = project.rstrip("/").rsplit("/", 1)[-1].lower()
    return last in {r.lower() for r in reserved}


def parse_record(obj: dict[str, Any]) -> Record:
    """Validate one decoded JSON object into a `Record` (raises `ValidationError`)."""
    m = _RecordModel.model_validate(obj)
    pair = m.meta.get("pair_id")
    return Record(
        id=m.id,
        language=m.language,
        code=m.code,
        label=m.label,
        source=m.source,
        project=m.project or m.source,
        cwe=m.cwe or None,
        lines=tuple(m.lines),
        path=m.path,
        pair_id=str(pair) if pair else None,
        meta=m.meta,
    )


def record_row(record: Record) -> dict[str, Any]:
    """The shared-schema JSON object of a record (`parse_record`'s inverse)."""
    return {
        "id": record.id,
        "language": record.language,
        "code": record.code,
        "label": record.label,
        "cwe": record.cwe,
        "lines": list(record.lines),
        "source": record.source,
        "project": record.project,
        "path": record.path,
        "meta": record.meta,
    }


def read_jsonl_text(path: Path) -> str:
    """The text of a JSONL file, gunzipped when its name ends in `.gz` (the mined fix
    pairs, `data/fixes/pairs.jsonl.gz`); a `ConfigError` when it cannot be read."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def load_records(paths: Sequence[Path]) -> list[Record]:
    """Every record of the JSONL files (`.jsonl.gz` ones gunzipped), validated; a bad
    line is a `ConfigError` naming the file and line. Duplicate ids across files are an
    error too."""
    records: list[Record] = []
    seen: set[str] = set()
    for path in paths:
        lines = read_jsonl_text(path).splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = parse_record(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as exc:
                raise ConfigError(f"{path}:{number}: not a valid record: {exc}") from exc
            if record.id in seen:
                raise ConfigError(f"{path}:{number}: duplicate record id {record.id!r}")
            seen.add(record.id)
            records.append(record)
    return records


def filter_reserved(records: Iterable[Record]) -> tuple[list[Record], int]:
    """Records outside the reserved projects, and how many were dropped."""
    kept: list[Record] = []
    dropped = 0
    for r in records:
        if is_reserved(r.project):
            dropped += 1
        else:
            kept.append(r)
    return kept, dropped


def sample_records(records: Sequence[Record], per_source: int | None, seed: int) -> list[Record]:
    """A seeded sample of up to `per_source` records from every source.

    Within a source, sampling units are groups (a vulnerable/fixed pair is one group, so
    both halves are in or out together), shuffled with `random.Random(seed)` after
    sorting by id (so the order of the input files does not matter). Groups are taken
    while they fit a per-label quota of half the sample; when one label runs out the
    other fills the rest. `None` keeps everything. The result is sorted by id.
    """
    if per_source is None:
        return sorted(records, key=lambda r: r.id)
    by_source: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_source[r.source][r.group].append(r)
    chosen: list[Record] = []
    for source in sorted(by_source):
        groups = [sorted(g, key=lambda r: r.id) for _, g in sorted(by_source[source].items())]
        rng = random.Random(f"{seed}:{source}")
        rng.shuffle(groups)
        chosen.extend(_fill(groups, per_source))
    return sorted(chosen, key=lambda r: r.id)


def _fill(groups: list[list[Record]], n: int) -> list[Record]:
    available = [sum(1 for g in groups for r in g if r.label == lab) for lab in (0, 1)]
    quota = [n // 2, n - n // 2]
    # A label short of its quota hands the rest to the other label.
    for lab in (0, 1):
        if available[lab] < quota[lab]:
            quota[1 - lab] += quota[lab] - available[lab]
            quota[lab] = available[lab]
    taken = [0, 0]
    out: list[Record] = []
    for g in groups:
        need = [sum(1 for r in g if r.label == lab) for lab in (0, 1)]
        if all(taken[lab] + need[lab] <= quota[lab] for lab in (0, 1)):
            out.extend(g)
            taken = [taken[0] + need[0], taken[1] + need[1]]
        if len(out) >= n:
            break
    return out


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def snippet_path(record: Record) -> str:
    """Where a record's code is written inside a batch directory (relative, POSIX).

    `<language>/<readable id>-<hash><ext>`: unique, filesystem-safe and stable.
    """
    digest = hashlib.sha256(record.id.encode()).hexdigest()[:10]
    stem = _UNSAFE.sub("_", record.id)[-60:].strip("._") or "unit"
    return f"{record.language}/{stem}-{digest}{CANONICAL_EXTENSION[record.language]}"


def snippet_text(record: Record, code: str | None = None) -> str:
    """The file text for a record: Python units are dedented (a method cut out of its
    class would not parse otherwise); line numbers never change."""
    text = record.code if code is None else code
    if record.language == "python":
        text = textwrap.dedent(text)
    return text if text.endswith("\n") else text + "\n"


def write_batch(
    records: Sequence[Record], directory: Path, codes: dict[str, str] | None = None
) -> dict[str, str]:
    """Write each record as its own file under `directory`; returns id -> relative path.

    `codes` overrides a record's code (perturbed variants).
    """
    paths: dict[str, str] = {}
    for r in records:
        rel = snippet_path(r)
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(snippet_text(r, (codes or {}).get(r.id)), encoding="utf-8")
        paths[r.id] = rel
    return paths
