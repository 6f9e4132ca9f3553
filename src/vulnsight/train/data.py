"""Labelled records -> training examples rendered exactly as the scanner prompts.

One source of truth: the prompt comes from `vulnsight.llm.prompt.render` over the
context `vulnsight.context.build_context` builds, and the target is the verdict JSON
from `vulnsight.llm.schema`, so a trained model sees at training time what it will
see when scanning.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from vulnsight.bench.records import Record, is_reserved, load_records
from vulnsight.context import build_context
from vulnsight.llm.prompt import Prompt, render
from vulnsight.llm.schema import Verdict, continuation
from vulnsight.parse.callgraph import CallGraph
from vulnsight.types import Function

__all__ = [
    "Example",
    "Record",
    "Split",
    "is_dev",
    "is_reserved",
    "load_records",
    "split_records",
    "to_example",
    "verdict_for",
]


def is_dev(project: str, fraction: float, seed: int = 0) -> bool:
    """Stable project-level split: a project is in dev or train, never both."""
    digest = hashlib.sha256(f"{seed}:{project}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass(frozen=True)
class Example:
    """A training example: the scanner's prompt and the verdict it should produce."""

    record_id: str
    project: str
    source: str
    language: str
    label: int
    cwe: str | None
    line: int  # file line of the first labelled line (0 when unknown)
    prompt: Prompt
    target: str  # the verdict after the forced reply prefix, e.g. ' true, "type": ...'


def verdict_for(record: Record, start_line: int) -> Verdict:
    """The verdict a perfect model gives for `record` placed at `start_line`."""
    if record.label:
        cwe = record.cwe if record.cwe and record.cwe.startswith("CWE-") else "CWE-20"
        line = start_line + record.lines[0] - 1 if record.lines else 0
        return Verdict(vulnerability=True, type=cwe, line_number=line, confidence=1.0)
    return Verdict(vulnerability=False, type="none", line_number=0, confidence=1.0)


def to_example(
    record: Record,
    count_tokens: Callable[[str], int],
    budget_tokens: int,
    start_line: int = 1,
) -> Example:
    """Render one record as the scanner would see it at `start_line` of its file."""
    n_lines = record.code.count("\n") + 1
    fn = Function(
        file=record.path or f"{record.id}",
        language=record.language,
        name=record.id,
        start_line=start_line,
        end_line=start_line + n_lines - 1,
        code=record.code,
        signature="",
    )
    ctx = build_context(fn, CallGraph.build([fn]), budget_tokens, count_tokens)
    verdict = verdict_for(record, start_line)
    return Example(
        record_id=record.id,
        project=record.project,
        source=record.source,
        language=record.language,
        label=record.label,
        cwe=record.cwe,
        line=verdict.line_number,
        prompt=render(ctx.text, record.language),
        target=continuation(verdict),
    )


@dataclass(frozen=True)
class Split:
    """Training and development records, split by project."""

    train: list[Record]
    dev: list[Record]


def split_records(
    records: Sequence[Record],
    dev_fraction: float,
    seed: int,
    exclude_sources: Iterable[str] = (),
    max_train: int | None = None,
    dev: Sequence[Record] | None = None,
) -> Split:
    """Drop reserved projects and excluded sources, split by project, optionally sample
    the training side (stratified by source and label, seeded).

    With an explicit `dev` set, every kept record trains except those of a project that
    also appears in `dev` (so the two never share a project).
    """
    excluded = set(exclude_sources)
    kept = [r for r in records if r.source not in excluded and not is_reserved(r.project)]
    if dev is not None:
        dev = [r for r in dev if not is_reserved(r.project)]
        dev_projects = {r.project for r in dev}
        train = [r for r in kept if r.project not in dev_projects]
    else:
        train = [r for r in kept if not is_dev(r.project, dev_fraction, seed)]
        dev = [r for r in kept if is_dev(r.project, dev_fraction, seed)]
    rng = random.Random(seed)
    if max_train is not None and len(train) > max_train:
        train = stratified(train, max_train, rng, lambda r: (r.source, r.label))[:max_train]
    rng.shuffle(train)
    return Split(train=train, dev=dev)


def stratified(
    records: Sequence[Record],
    cap: int,
    rng: random.Random,
    key: Callable[[Record], tuple[str | int, ...]],
) -> list[Record]:
    """About `cap` records, the same share of every `key` group (at least one each)."""
    groups: dict[tuple[str | int, ...], list[Record]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    share = cap / len(records)
    out: list[Record] = []
    for k in sorted(groups):
        members = groups[k]
        rng.shuffle(members)
        out.extend(members[: max(1, round(len(members) * share))])
    return out
