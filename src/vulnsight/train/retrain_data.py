"""The data of a one-shot GPU retraining run, built on the CPU before the device call.

Everything the device needs about the records travels pre-tokenised in one compact
``data.npz``: the scanner's own prompt for each record (rendered by `train.data`) and
its verdict target, as token ids of a *packed* base (`train.packed_base`: only the
tokens the data uses are kept, renumbered), plus one JSON list saying what each example
is. The device then needs torch, transformers and peft only: no tokenizer, no
tree-sitter, no pydantic.

Which records, and what each is for:

* ``test``: the leave-one-source-out sample of every corpus (the same ids that
  ``vulnsight eval --loso --sample N --seed S`` scores; `semgrep_rules_tests` never).
  The fold holding a source out scores its test records; other folds train on them.
* the mined fix pairs are one more source (``fixes``): sampled and held out like a
  corpus, pairs whole, so one fold measures pair-correct on real fix pairs.
* ``dev``: records of a seeded share of each source's projects: never trained on, by
  any fold or the final adapter; scored by every fold that did not hold their source
  out (thresholds and the combiner are fitted on them back on the CPU).
* ``clean_heldout``: presumed-clean functions of mature packages held out by project
  (the flag rate on mature code); the rest of the clean code trains.
* perturbed copies (``kind`` 'perturbed': identifiers renamed, reassuring names,
  planted strings) of a seeded share of the trainable records, same label and source.

Examples are stored group by group (both halves of a pair next to each other) so the
device's batcher can keep a pair in one batch.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vulnsight.bench.records import (
    SEMGREP_FITTED_SOURCE,
    Record,
    filter_reserved,
    load_records,
    parse_record,
    sample_records,
)
from vulnsight.train.data import is_dev, stratified, to_example

__all__ = ["DataSettings", "build_examples", "cap_planned", "plan_records", "save_pack_data"]

#: Perturbations that keep every line where it was (line targets stay right).
PERTURB_KINDS: tuple[str, ...] = ("identifier", "literal", "rename")


@dataclass(frozen=True)
class DataSettings:
    """How the data is drawn (every choice seeded)."""

    sample: int = 300  # LOSO test records per source (as `eval --loso --sample`)
    seed: int = 0
    dev_fraction: float = 0.1  # share of projects never trained on (thresholds)
    clean_heldout_fraction: float = 0.3  # share of clean packages held out (flag rate)
    per_source: int = 1500  # most trainable records per source (stratified by label)
    perturb_fraction: float = 0.25  # share of trainable records given a perturbed copy
    max_records: int | None = None  # cap on all examples (smoke runs)
    max_length: int = 768  # tokens per example, prompt + verdict


def read_jsonl(path: Path) -> list[Record]:
    """Records of a JSONL file, gzipped or not (the fix pairs are .jsonl.gz)."""
    if path.suffix != ".gz":
        return load_records([path])
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [parse_record(json.loads(line)) for line in fh if line.strip()]


@dataclass(frozen=True)
class Planned:
    """One record and what the run does with it."""

    record: Record
    test: bool = False
    dev: bool = False
    clean_heldout: bool = False
    kind: str = "original"  # or 'perturbed'


def plan_records(
    corpora: Sequence[Record], clean: Sequence[Record], settings: DataSettings
) -> list[Planned]:
    """Choose test, dev, training and held-out clean records (reserved projects and
    the development-only source dropped)."""
    kept, _ = filter_reserved(r for r in corpora if r.source != SEMGREP_FITTED_SOURCE)
    test_ids = {r.id for r in sample_records(kept, settings.sample, settings.seed)}
    rng = random.Random(settings.seed)
    out: list[Planned] = []
    by_source: dict[str, list[Record]] = {}
    for r in kept:
        by_source.setdefault(r.source, []).append(r)
    for source in sorted(by_source):
        rows = by_source[source]
        test = [r for r in rows if r.id in test_ids]
        rest = [r for r in rows if r.id not in test_ids]
        if len(rest) > settings.per_source:
            rest = _whole_groups(rest, settings.per_source, rng)
        for r in sorted([*test, *rest], key=lambda r: (r.group, r.id)):
            dev = is_dev(r.project, settings.dev_fraction, settings.seed + 7)
            out.append(Planned(r, test=r.id in test_ids, dev=dev))
    clean_kept, _ = filter_reserved(clean)
    for r in sorted(clean_kept, key=lambda r: r.id):
        held = is_dev(r.project, settings.clean_heldout_fraction, settings.seed + 11)
        out.append(Planned(r, clean_heldout=held))
    return out


def _whole_groups(rows: Sequence[Record], cap: int, rng: random.Random) -> list[Record]:
    """About `cap` records stratified by label, pairs kept whole."""
    groups: dict[str, list[Record]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    firsts = [g[0] for g in groups.values()]
    chosen = stratified(firsts, max(1, cap * len(firsts) // len(rows)), rng, lambda r: (r.label,))
    return [r for f in chosen for r in groups[f.group]]


def add_perturbed(
    planned: Sequence[Planned],
    fraction: float,
    seed: int,
    perturb: Callable[[Record, str], str | None],
) -> list[Planned]:
    """`planned` plus perturbed copies of a seeded share of the trainable records
    (never of dev or held-out clean records), each right after its original."""
    rng = random.Random(f"perturb:{seed}")
    out: list[Planned] = []
    for p in planned:
        out.append(p)
        if p.dev or p.clean_heldout or rng.random() >= fraction:
            continue
        name = PERTURB_KINDS[rng.randrange(len(PERTURB_KINDS))]
        code = perturb(p.record, name)
        if code is None or code == p.record.code:
            continue
        copy = replace(p.record, id=f"{p.record.id}~{name}", code=code)
        out.append(Planned(copy, kind="perturbed"))
    return out


def build_examples(
    planned: Sequence[Planned],
    tokenizer: Any,
    settings: DataSettings,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[list[int]], list[int], list[dict[str, Any]]]:
    """Token ids (prompt + target), prompt lengths and per-example info, in order."""
    from vulnsight.train.trainer import encode

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    rng = random.Random(settings.seed)
    first = planned[0].record
    prefix = count(to_example(first, count, 512).prompt.prefix)
    budget = max(128, settings.max_length - prefix - 48)
    ids: list[list[int]] = []
    prompt_len: list[int] = []
    info: list[dict[str, Any]] = []
    for n, p in enumerate(planned, 1):
        r = p.record
        trains = not (p.dev or p.clean_heldout or p.test)
        # Training examples sit at random file lines (as `vulnsight train` does) so the
        # model learns file line numbers; scored ones at line 1 (as eval renders them).
        start = rng.randint(1, 400) if trains or p.kind == "perturbed" else 1
        enc = encode(tokenizer, to_example(r, count, budget, start), settings.max_length)
        ids.append(enc.prompt_ids + enc.target_ids)
        prompt_len.append(len(enc.prompt_ids))
        info.append(
            {
                "id": r.id,
                "source": r.source,
                "language": r.language,
                "project": r.project,
                "label": r.label,
                "pair": r.pair_id,
                "test": p.test,
                "dev": p.dev,
                "clean_heldout": p.clean_heldout,
                "kind": p.kind,
            }
        )
        if progress is not None and (n % 200 == 0 or n == len(planned)):
            progress(n, len(planned))
    return ids, prompt_len, info


def save_pack_data(
    path: Path,
    ids: Sequence[Sequence[int]],
    prompt_len: Sequence[int],
    info: Sequence[dict[str, Any]],
    keep: Sequence[int],
    header: dict[str, Any],
) -> None:
    """Write the examples renumbered into the packed vocabulary (`keep`)."""
    remap = np.full(max(keep) + 1, -1, dtype=np.int64)
    remap[np.asarray(keep, dtype=np.int64)] = np.arange(len(keep))
    flat = np.concatenate([np.asarray(row, dtype=np.int64) for row in ids])
    packed = remap[flat]
    if (packed < 0).any():
        raise ValueError("a token of the data is not in the kept vocabulary")
    dtype = np.uint16 if len(keep) <= 65536 else np.uint32
    offsets = np.cumsum([0, *[len(r) for r in ids]]).astype(np.int64)
    meta = {**header, "examples": list(info)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez_compressed(
            fh,
            ids=packed.astype(dtype),
            offsets=offsets,
            prompt_len=np.asarray(prompt_len, dtype=np.int32),
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
    tmp.replace(path)


def summary(info: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts by role, source and kind (for the log and the run's config)."""
    role = Counter(
        "test"
        if e["test"]
        else "dev"
        if e["dev"]
        else "clean_heldout"
        if e["clean_heldout"]
        else "train"
        for e in info
    )
    return {
        "examples": len(info),
        "by_role": dict(sorted(role.items())),
        "by_source": dict(sorted(Counter(e["source"] for e in info).items())),
        "by_kind": dict(sorted(Counter(e["kind"] for e in info).items())),
        "by_language": dict(sorted(Counter(e["language"] for e in info).items())),
        "pairs": len({e["pair"] for e in info if e["pair"]}),
    }


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """`fn()` and the seconds it took."""
    started = time.monotonic()
    value = fn()
    return value, time.monotonic() - started


def cap_planned(planned: Sequence[Planned], cap: int) -> list[Planned]:
    """At most about `cap` records for smoke runs: groups taken round-robin over
    sources (a pair stays whole), so every source keeps test and training records."""
    by_source: dict[str, dict[str, list[Planned]]] = {}
    for p in planned:
        by_source.setdefault(p.record.source, {}).setdefault(p.record.group, []).append(p)
    queues = []
    for s in sorted(by_source):
        groups = list(by_source[s].values())
        test = [g for g in groups if g[0].test]
        other = [g for g in groups if not g[0].test]
        mixed = [g for pair in zip(test, other, strict=False) for g in pair]
        n = min(len(test), len(other))
        queues.append(mixed + test[n:] + other[n:])  # test and trainable alternate
    out: list[Planned] = []
    i = 0
    while len(out) < cap and any(i < len(q) for q in queues):
        for q in queues:
            if i < len(q) and len(out) < cap:
                out.extend(q[i])
        i += 1
    return out
