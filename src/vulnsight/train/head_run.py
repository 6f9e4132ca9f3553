"""`vulnsight train --method head`: fit a decision head over a frozen GGUF model.

One prompt evaluation per example in llama.cpp (the scanner's own fast path, on the
quantised model it will run), no backward pass: thousands of examples an hour on two
CPU cores. Features are cached per example, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vulnsight.llm.head import DecisionHead, feature_tokens, fit_head
from vulnsight.llm.prompt import PROMPT_VERSION
from vulnsight.train.config import TrainConfig
from vulnsight.train.data import (
    Record,
    is_dev,
    is_reserved,
    load_records,
    stratified,
    to_example,
)
from vulnsight.train.metrics import best_threshold, confusion, dev_metrics

EventFn = Callable[[str, dict[str, Any]], None]
L2_GRID = (1.0, 10.0, 100.0, 1000.0)


def three_way(records: Sequence[Record], fraction: float, seed: int) -> dict[str, list[Record]]:
    """train / val / test by project: val picks L2 and the threshold, test is reported."""
    parts: dict[str, list[Record]] = {"train": [], "val": [], "test": []}
    for r in records:
        if not is_dev(r.project, fraction, seed):
            parts["train"].append(r)
        elif is_dev(r.project, 0.5, seed + 1):
            parts["val"].append(r)
        else:
            parts["test"].append(r)
    return parts


def _cap(records: list[Record], cap: int | None, seed: int) -> list[Record]:
    """At most about `cap` records, stratified by (source, label, language)."""
    if cap is None or len(records) <= cap:
        return records
    return stratified(records, cap, random.Random(seed), lambda r: (r.source, r.label, r.language))


class FeatureCache:
    """Append-only JSONL of record id -> feature row, so extraction can resume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, list[float]] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    item = json.loads(line)
                    self.rows[item["id"]] = item["x"]

    def add(self, key: str, row: Sequence[float]) -> None:
        self.rows[key] = [round(float(v), 4) for v in row]
        with self.path.open("a") as fh:
            fh.write(json.dumps({"id": key, "x": self.rows[key]}) + "\n")


def run_head_training(config: TrainConfig, on_event: EventFn | None = None) -> Path:
    """Extract decision-point logits for every example, fit the head, write the model dir."""
    from vulnsight.llm.models import load, resolve

    emit = on_event or (lambda kind, payload: None)
    started = time.monotonic()
    records = [
        r
        for r in load_records(config.data)
        if r.source not in config.exclude_sources and not is_reserved(r.project)
    ]
    parts = three_way(records, config.dev_fraction, config.seed)
    parts["train"] = _cap(parts["train"], config.max_train, config.seed)
    parts["val"] = _cap(parts["val"], config.max_dev, config.seed)
    parts["test"] = _cap(parts["test"], config.max_dev, config.seed)
    emit("data", {k: len(v) for k, v in parts.items()})
    config.out.mkdir(parents=True, exist_ok=True)
    split = {k: [r.id for r in v] for k, v in parts.items()}
    (config.out / "split.json").write_text(json.dumps(split) + "\n")
    backend: Any = load(config.base)
    ids = feature_tokens(backend._llm.n_vocab(), always=backend.true_false_ids, seed=config.seed)
    config.out.mkdir(parents=True, exist_ok=True)
    cache = FeatureCache(config.out / "features.jsonl")
    meta = {"prompt_version": PROMPT_VERSION, "base": config.base, "n_ids": int(len(ids))}
    meta_path = config.out / "features.meta.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()) != meta:
        cache.path.unlink()
        cache = FeatureCache(cache.path)
    meta_path.write_text(json.dumps(meta))
    rng = random.Random(config.seed)
    todo = [r for part in parts.values() for r in part]
    for done, r in enumerate(todo, 1):
        if r.id not in cache.rows:
            start = 1 if r.label == 0 and r.source == "mature-clean" else rng.randint(1, 400)
            ex = to_example(r, backend.count_tokens, config.max_length - 512, start)
            cache.add(r.id, backend.decision_logits([ex.prompt], ids)[0])
        if done % 50 == 0 or done == len(todo):
            emit("features", {"done": done, "of": len(todo)})

    def xy(part: list[Record]) -> tuple[Any, Any]:
        return (np.array([cache.rows[r.id] for r in part]), np.array([r.label for r in part]))

    xt, yt = xy(parts["train"])
    xv, yv = xy(parts["val"])
    best: tuple[float, float, DecisionHead] | None = None
    for l2 in L2_GRID:
        head = fit_head(xt, yt, ids, l2=l2)
        pv = head.predict(xv)
        thr = best_threshold(list(yv), list(pv))
        j = confusion(list(yv), list(pv), thr).youden_j
        emit("val", {"l2": l2, "youden_j": round(j, 4), "threshold": round(thr, 4)})
        if best is None or j > best[0]:
            best = (j, thr, head)
    assert best is not None
    _, threshold, head = best
    head.save(config.out / "head.npz")
    report = _report(head, parts, cache, threshold, backend.true_false_ids)
    seconds = time.monotonic() - started
    spec = resolve(config.base)
    manifest = {
        "name": config.out.name,
        "prompt_version": PROMPT_VERSION,
        "base_gguf": "default"
        if spec.kwargs.get("model_path") is None
        else str(spec.kwargs["model_path"]),
        "head": "head.npz",
        "threshold": round(float(threshold), 4),
        "method": "decision head (L2 logistic regression over decision-point logits)",
        "metrics": report,
        "train_seconds": round(seconds, 1),
        "data": {k: dict(Counter(r.source for r in v)) for k, v in parts.items()},
    }
    (config.out / "vulnsight-model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    emit("written", {"out": str(config.out), "test": report["test"]})
    backend.close()
    return config.out


def _report(
    head: DecisionHead,
    parts: dict[str, list[Record]],
    cache: FeatureCache,
    threshold: float,
    true_false: tuple[int, int],
) -> dict[str, Any]:
    """Metrics of the head (at the calibrated threshold) and of the untuned model's own
    true/false decision, on val and test."""
    from vulnsight.llm.prompt import Prompt
    from vulnsight.train.data import Example

    out: dict[str, Any] = {}
    idx = {int(t): i for i, t in enumerate(head.token_ids)}
    ti, fi = idx[true_false[0]], idx[true_false[1]]
    for name in ("val", "test"):
        part = parts[name]
        x = np.array([cache.rows[r.id] for r in part])
        exs = [
            Example(r.id, r.project, r.source, r.language, r.label, r.cwe, 0, Prompt("", ""), "")
            for r in part
        ]
        p_head = head.predict(x)
        m = dev_metrics(exs, list(p_head))
        at = confusion([e.label for e in exs], list(p_head), threshold)
        out[name] = {
            "n": len(part),
            "auc": round(m.auc, 4),
            "at_threshold": {
                "precision": round(at.precision, 4),
                "recall": round(at.recall, 4),
                "f1": round(at.f1, 4),
                "fpr": round(at.fpr, 4),
                "youden_j": round(at.youden_j, 4),
            },
            "per_language": _per_language(exs, list(p_head), threshold),
        }
        # The untuned model's own decision: softmax over its true/false logits at 0.5.
        p_base = 1.0 / (1.0 + np.exp(-np.clip(x[:, ti] - x[:, fi], -60, 60)))
        base = confusion([e.label for e in exs], list(p_base), 0.5)
        out[name]["untuned_at_0.5"] = {
            "auc": round(dev_metrics(exs, list(p_base)).auc, 4),
            "f1": round(base.f1, 4),
            "youden_j": round(base.youden_j, 4),
            "per_language": _per_language(exs, list(p_base), 0.5),
        }
    return out


def _per_language(exs: Sequence[Any], scores: Sequence[float], threshold: float) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for lang in sorted({e.language for e in exs}):
        sel = [i for i, e in enumerate(exs) if e.language == lang]
        c = confusion([exs[i].label for i in sel], [scores[i] for i in sel], threshold)
        res[lang] = {
            "n": len(sel),
            "f1": round(c.f1, 4),
            "youden_j": round(c.youden_j, 4),
            "fpr": round(c.fpr, 4),
            "recall": round(c.recall, 4),
        }
    return res
