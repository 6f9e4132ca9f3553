"""The per-record inputs of the leave-one-source-out evaluation, computed once.

Everything a fold trains or tests on is a function of one record alone: which rules
fired (and with which CWE), whether the data-flow detector found a path, and the base
model's next-token logits at the decision point (the decision head's features). So
they are computed once per record and cached under ``--out``; every fold reuses them
and a rerun (or a resumed, interrupted run) computes only what is missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vulnsight.bench.records import Record
from vulnsight.llm.prompt import PROMPT_VERSION, Prompt

#: progress(label, done, total)
ProgressFn = Callable[[str, int, int], None]


class LogitsBackend(Protocol):
    """What feature extraction needs of a model backend (llama.cpp has it; tests fake it)."""

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` under the model's tokenizer."""
        ...

    def decision_logits(self, prompts: Sequence[Prompt], token_ids: Any) -> list[Any]:
        """The logits of `token_ids` at the decision point of each prompt."""
        ...

    @property
    def true_false_ids(self) -> tuple[int, int]:
        """Token ids of the first verdict token for true and false."""
        ...


@dataclass(frozen=True)
class RecordInputs:
    """What the detectors and the base model say about one record."""

    rules: tuple[str, ...] = ()
    rule_cwes: tuple[str, ...] = ()
    flow: bool = False
    flow_cwes: tuple[str, ...] = ()
    #: decision-point logits of the head's feature tokens (None: not extracted)
    logits: tuple[float, ...] | None = None
    #: the untuned base model's own P(vulnerable): sigmoid(logit(true) - logit(false))
    base_p: float | None = None

    @property
    def rule_hit(self) -> bool:
        """Whether any rule fired."""
        return bool(self.rules)


class FeatureCache:
    """Append-only JSONL of record id -> logits row, tied to the settings that made it.

    A cache written under other settings (prompt version, model, feature tokens, token
    budget) is discarded, never mixed in. A line cut by an interrupted write is skipped.
    """

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        self.path = path
        self.rows: dict[str, list[float]] = {}
        meta = path.with_suffix(".meta.json")
        stale = meta.is_file() and json.loads(meta.read_text("utf-8")) != settings
        if stale:
            path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps(settings, sort_keys=True) + "\n", encoding="utf-8")
        if path.is_file():
            text = path.read_text("utf-8")
            if text and not text.endswith("\n"):  # a row cut by an interruption: drop it
                text = text[: text.rfind("\n") + 1]
                path.write_text(text, encoding="utf-8")
            for line in text.splitlines():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.rows[str(item["id"])] = [float(v) for v in item["x"]]

    def add(self, key: str, row: Sequence[float]) -> None:
        """Store one row (flushed at once, so an interruption loses at most this row)."""
        self.rows[key] = [round(float(v), 4) for v in row]
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": key, "x": self.rows[key]}) + "\n")


def cache_settings(model: str, token_ids: Sequence[int], budget_tokens: int) -> dict[str, Any]:
    """What a cached logits row depends on."""
    return {
        "prompt_version": PROMPT_VERSION,
        "model": model,
        "token_ids": [int(t) for t in token_ids],
        "budget_tokens": budget_tokens,
    }


def extract_logits(
    records: Sequence[Record],
    backend: LogitsBackend,
    cache: FeatureCache,
    token_ids: Any,
    budget_tokens: int,
    progress: ProgressFn | None = None,
) -> int:
    """Fill `cache` with the decision-point logits of every record not yet in it; each
    record is rendered exactly as training renders it (`train.data.to_example`, at line
    1 of its file). Returns how many were computed now."""
    from vulnsight.train.data import to_example

    todo = [r for r in interleaved(records) if r.id not in cache.rows]
    for done, r in enumerate(todo, 1):
        ex = to_example(r, backend.count_tokens, budget_tokens, 1)
        cache.add(r.id, list(backend.decision_logits([ex.prompt], token_ids)[0]))
        if progress is not None and (done % 10 == 0 or done == len(todo)):
            progress("head features", done, len(todo))
    return len(todo)


def interleaved(records: Sequence[Record]) -> list[Record]:
    """Records in extraction order: sources round-robin, a source's groups (a pair is
    one group) in a seeded shuffle, so an extraction cut short still covers every
    source and both halves of each pair it reached."""
    import random

    by_source: dict[str, dict[str, list[Record]]] = {}
    for r in sorted(records, key=lambda r: r.id):
        by_source.setdefault(r.source, {}).setdefault(r.group, []).append(r)
    queues: list[list[list[Record]]] = []
    for source in sorted(by_source):
        groups = [by_source[source][g] for g in sorted(by_source[source])]
        random.Random(f"loso:{source}").shuffle(groups)
        queues.append(groups)
    out: list[Record] = []
    for i in range(max((len(q) for q in queues), default=0)):
        for q in queues:
            if i < len(q):
                out.extend(q[i])
    return out


def record_inputs(
    records: Sequence[Record],
    rules: dict[str, Any],
    flow: dict[str, Any],
    cache: FeatureCache | None,
    token_ids: Sequence[int],
    true_false: tuple[int, int] | None,
) -> dict[str, RecordInputs]:
    """Join detector predictions (`Prediction` by record id) and cached logits."""
    where = {int(t): i for i, t in enumerate(token_ids)}
    out: dict[str, RecordInputs] = {}
    for r in records:
        rp, fp = rules.get(r.id), flow.get(r.id)
        row = cache.rows.get(r.id) if cache is not None else None
        base_p = None
        if row is not None and true_false is not None and true_false[0] in where:
            diff = row[where[true_false[0]]] - row[where[true_false[1]]]
            base_p = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, diff))))
        out[r.id] = RecordInputs(
            rules=(tuple(rp.rules) or ("unnamed",)) if rp is not None and rp.predicted else (),
            rule_cwes=tuple(rp.cwes) if rp is not None and rp.predicted else (),
            flow=bool(fp is not None and fp.predicted),
            flow_cwes=tuple(fp.cwes) if fp is not None and fp.predicted else (),
            logits=tuple(row) if row is not None else None,
            base_p=base_p,
        )
    return out
