"""The device side of a one-shot GPU retraining run: leave-one-source-out LoRA folds and
the final adapter, in one time-boxed process.

Imports torch, transformers, peft and numpy only (plus light vulnsight modules): the
lent machine has no tree-sitter, pydantic or tokenizer files, and needs none, since the
data arrives pre-tokenised (`train.retrain_data`) and the base packed
(`train.packed_base`). The loss and the score are the trainer's (`train.trainer.
batch_loss` / `p_true`: the same left-padded batches, the decision token weighted up,
P(true) from the true/false logits); a unit test holds them equal.

Outputs under ``out/`` (few files, as a lent machine returns at most 8):
``folds.json`` (every finished fold's metrics, rewritten as each finishes),
``scores.jsonl`` (every scored record's P(vulnerable), per fold), ``final-adapter.tar``
(PEFT adapter + ``train_config.json`` + ``dev_metrics.json``) and ``run.json``.
A rerun with the same ``out/`` skips what is finished.
"""

from __future__ import annotations

import json
import math
import random
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulnsight.bench.metrics import (
    confusion,
    f1,
    fpr,
    mcc,
    pair_metrics,
    pair_outcomes,
    recall,
    roc_auc,
    youden_j,
)

__all__ = [
    "PackData",
    "RunSettings",
    "batch_loss",
    "fold_plan",
    "group_batches",
    "load_pack_data",
    "p_true",
    "run",
]

LogFn = Callable[[str], None]
#: LoRA targets: every attention and MLP projection (as `vulnsight train`).
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class PackData:
    """The examples of a data pack, as the device reads them."""

    ids: list[list[int]]
    prompt_len: list[int]
    examples: list[dict[str, Any]]
    header: dict[str, Any]


def load_pack_data(path: Path) -> PackData:
    """Read `retrain_data.save_pack_data`'s file (numpy only)."""
    with np.load(path) as z:
        flat = z["ids"].astype(np.int64)
        offsets = z["offsets"]
        prompt_len = [int(v) for v in z["prompt_len"]]
        meta = json.loads(bytes(z["meta"]).decode())
    rows = [flat[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    examples = meta.pop("examples")
    return PackData(rows, prompt_len, examples, meta)


@dataclass(frozen=True)
class RunSettings:
    """How the folds and the final adapter train; saved with every result."""

    budget_s: float = 510.0  # wall seconds for the whole run, loading included
    final_share: float = 0.3  # of the training time, kept for the final adapter
    fold_examples: int = 3000  # most examples one fold consumes
    final_examples: int = 8000  # most examples the final adapter consumes
    batch_size: int = 16
    score_batch: int = 64
    lr: float = 3e-4
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    decision_weight: float = 4.0
    seed: int = 0
    folds: tuple[str, ...] = ()  # only these held-out sources (default: every one)
    skip_final: bool = False
    min_job_s: float = 5.0  # a job with less time than this left is skipped, not started


# ---------------------------------------------------------------- plan


@dataclass(frozen=True)
class Job:
    """One training: a fold (held-out source) or the final adapter."""

    name: str  # 'fold:<source>' or 'final'
    held_out: str | None
    train: tuple[int, ...]
    score: tuple[int, ...]


def fold_plan(examples: Sequence[dict[str, Any]], only: Sequence[str] = ()) -> list[Job]:
    """One fold per source with test records, then the final adapter.

    A fold trains on every other source's non-dev records (held-out clean code never),
    minus records of projects that occur in the held-out source; it scores the held-out
    source's test records, the dev records of the sources it trained on, and the
    held-out clean code. The final adapter trains on all non-dev records and scores the
    dev records and the held-out clean code."""
    sources = sorted({e["source"] for e in examples if e["test"]})
    if only:
        sources = [s for s in sources if s in set(only)]
    jobs = []
    trainable = [i for i, e in enumerate(examples) if not (e["dev"] or e["clean_heldout"])]
    clean = [i for i, e in enumerate(examples) if e["clean_heldout"]]
    for s in sources:
        projects = {e["project"] for e in examples if e["source"] == s}
        train = [
            i
            for i in trainable
            if examples[i]["source"] != s and examples[i]["project"] not in projects
        ]
        test = [i for i, e in enumerate(examples) if e["test"] and e["source"] == s]
        dev = [i for i, e in enumerate(examples) if e["dev"] and e["source"] != s]
        jobs.append(Job(f"fold:{s}", s, tuple(train), tuple(test + dev + clean)))
    dev_all = [i for i, e in enumerate(examples) if e["dev"]]
    jobs.append(Job("final", None, tuple(trainable), tuple(dev_all + clean)))
    return jobs


def group_batches(
    lengths: Sequence[int], groups: Sequence[str], order: Sequence[int], batch: int, seed: int
) -> list[list[int]]:
    """Batches of about `batch` examples that never split a group (a vulnerable/fixed
    pair), of similar lengths (groups sorted by length within windows of 32 batches,
    then the batches shuffled), deterministic from `seed`."""
    units: dict[str, list[int]] = {}
    for i in order:
        units.setdefault(groups[i], []).append(i)
    seq = list(units.values())
    random.Random(seed).shuffle(seq)
    out: list[list[int]] = []
    window = 32 * batch
    start = 0
    while start < len(seq):
        part: list[list[int]] = []
        size = 0
        while start < len(seq) and size < window:
            part.append(seq[start])
            size += len(seq[start])
            start += 1
        part.sort(key=lambda u: max(lengths[i] for i in u))
        current: list[int] = []
        for u in part:
            if current and len(current) + len(u) > batch:
                out.append(current)
                current = []
            current.extend(u)
        if current:
            out.append(current)
    random.Random(seed + 1).shuffle(out)
    return out


# ---------------------------------------------------------------- model math


def _left_pad(rows: Sequence[Sequence[int]], pad: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    pos = torch.zeros((len(rows), width), dtype=torch.long)
    for n, r in enumerate(rows):
        k = len(r)
        ids[n, width - k :] = torch.as_tensor(r, dtype=torch.long)
        mask[n, width - k :] = 1
        pos[n, width - k :] = torch.arange(k)
    return ids, mask, pos


def batch_loss(
    model: Any,
    rows: Sequence[Sequence[int]],
    prompt_len: Sequence[int],
    device: str,
    decision_weight: float,
    pad: int,
) -> Any:
    """The trainer's loss over a left-padded batch: cross-entropy on the verdict tokens,
    the first (true/false) weighted `decision_weight`, each row's weighted mean, then
    the batch mean; logits only at the target positions."""
    import torch

    ids, mask, pos = _left_pad(rows, pad)
    ids, mask, pos = ids.to(device), mask.to(device), pos.to(device)
    n_target = [len(r) - p for r, p in zip(rows, prompt_len, strict=True)]
    keep = max(n_target) + 1
    logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, logits_to_keep=keep).logits
    pred = logits[:, :-1].float()
    gold = ids[:, ids.shape[1] - keep + 1 :]
    losses = torch.nn.functional.cross_entropy(
        pred.reshape(-1, pred.shape[-1]), gold.reshape(-1), reduction="none"
    ).view(len(rows), keep - 1)
    weights = torch.zeros_like(losses)
    for row, n in enumerate(n_target):
        weights[row, keep - 1 - n :] = 1.0
        weights[row, keep - 1 - n] = decision_weight
    return ((losses * weights).sum(dim=1) / weights.sum(dim=1)).mean()


def p_true(
    model: Any,
    prompts: Sequence[Sequence[int]],
    device: str,
    true_false: tuple[int, int],
    batch: int,
    pad: int,
) -> list[float]:
    """P(vulnerable) per prompt: softmax over the true/false logits at the last
    position, length-sorted left-padded batches."""
    import torch

    out = [0.0] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    with torch.no_grad():
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            ids, mask, pos = _left_pad([prompts[i] for i in chunk], pad)
            last = (
                model(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    position_ids=pos.to(device),
                    logits_to_keep=1,
                )
                .logits[:, -1]
                .float()
            )
            diff = (last[:, true_false[1]] - last[:, true_false[0]]).clamp(-60, 60)
            host = [float(v) for v in diff.cpu().tolist()]  # one copy to the host per batch
            for row, i in enumerate(chunk):
                out[i] = 1.0 / (1.0 + math.exp(host[row]))
    return out


# ---------------------------------------------------------------- metrics


def best_threshold(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """The observed score with the highest Youden's J (None without both labels)."""
    if len(set(labels)) < 2:
        return None
    pos = sum(labels)
    neg = len(labels) - pos
    best_t, best_j, tp, fp = None, -2.0, 0, 0
    pairs = sorted(zip(scores, labels, strict=True), reverse=True)
    for k, (s, y) in enumerate(pairs):
        tp += y
        fp += 1 - y
        if k + 1 < len(pairs) and pairs[k + 1][0] == s:
            continue
        j = tp / pos - fp / neg
        if j > best_j:
            best_t, best_j = s, j
    return best_t


def thresholds(rows: Sequence[tuple[dict[str, Any], float]]) -> tuple[dict[str, float], float]:
    """Per-language J-optimal thresholds on scored dev rows, and the pooled fallback."""
    t_all = best_threshold([e["label"] for e, _ in rows], [s for _, s in rows])
    fallback = 0.5 if t_all is None else t_all
    out = {}
    for lang in sorted({e["language"] for e, _ in rows}):
        sel = [(e, s) for e, s in rows if e["language"] == lang]
        t = best_threshold([e["label"] for e, _ in sel], [s for _, s in sel])
        out[lang] = fallback if t is None else t
    return out, fallback


def score_rows(
    rows: Sequence[tuple[dict[str, Any], float]], threshold: Callable[[str], float]
) -> dict[str, Any]:
    """J, MCC, pair-correct, F1, flag rate, recall and AUC of scored rows."""
    labels = [int(e["label"]) for e, _ in rows]
    flagged = [s >= threshold(e["language"]) for e, s in rows]
    c = confusion(labels, flagged)
    both = 0 < sum(labels) < len(labels)
    pairs = pair_metrics(
        pair_outcomes((e["pair"], e["label"], f) for (e, _), f in zip(rows, flagged, strict=True))
    )
    auc = roc_auc(labels, [s for _, s in rows]) if both else None
    return {
        "n": len(rows),
        "vulnerable": sum(labels),
        "youden_j": round(youden_j(c), 4) if both else None,
        "mcc": round(mcc(c), 4) if both else None,
        "pairs": int(pairs["pairs"]),
        "pair_correct": round(float(pairs["pair_correct"]), 4) if pairs["pairs"] else None,
        "f1": round(f1(c), 4) if sum(labels) else None,
        "flag_rate_clean": round(fpr(c), 4) if len(labels) > sum(labels) else None,
        "recall": round(recall(c), 4) if sum(labels) else None,
        "auc": None if auc is None else round(float(auc), 4),
    }


def job_metrics(
    job: Job, examples: Sequence[dict[str, Any]], scores: dict[int, float]
) -> dict[str, Any]:
    """Per-language metrics of a job's scored records at thresholds from its dev rows."""
    dev = [(examples[i], scores[i]) for i in job.score if examples[i]["dev"]]
    t_lang, t_fb = thresholds(dev)

    def at(lang: str) -> float:
        return t_lang.get(lang, t_fb)

    out: dict[str, Any] = {"thresholds": t_lang, "threshold_fallback": t_fb}
    parts = {
        "test": [
            i for i in job.score if examples[i]["test"] and examples[i]["source"] == job.held_out
        ],
        "dev": [i for i in job.score if examples[i]["dev"]],
        "clean_heldout": [i for i in job.score if examples[i]["clean_heldout"]],
    }
    for part, idx in parts.items():
        if not idx:
            continue
        rows = [(examples[i], scores[i]) for i in idx]
        by_lang = {
            lang: score_rows([r for r in rows if r[0]["language"] == lang], at)
            for lang in sorted({e["language"] for e, _ in rows})
        }
        out[part] = {"all": score_rows(rows, at), "by_language": by_lang}
    return out


# ---------------------------------------------------------------- run


class Clock:
    """The run's wall-clock budget."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + budget_s

    def left(self) -> float:
        """Seconds left."""
        return self.deadline - time.monotonic()

    def used(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _train_job(
    base: Any,
    job: Job,
    data: PackData,
    settings: RunSettings,
    device: str,
    seconds: float,
    cap: int,
    log: LogFn,
) -> tuple[Any, dict[str, Any]]:
    """LoRA on `base` for this job within `seconds`; returns the PEFT model and stats."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(settings.seed)
    present = {n.rsplit(".", 1)[-1] for n, _ in base.named_modules()}
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=[t for t in TARGETS if t in present],
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)
    lengths = [len(r) for r in data.ids]
    groups = [e["pair"] or e["id"] for e in data.examples]
    order = list(job.train)
    batches: list[list[int]] = []
    epoch = 0
    while sum(len(b) for b in batches) < cap and order:
        batches += group_batches(lengths, groups, order, settings.batch_size, settings.seed + epoch)
        epoch += 1
    kept, n = [], 0
    for b in batches:
        if n >= cap:
            break
        kept.append(b)
        n += len(b)
    total = max(1, len(kept))
    warmup = max(1, total // 20)
    pad = int(data.header["pad_id"])
    started = time.monotonic()
    seen = steps = 0
    losses: list[float] = []
    stop = "done"
    model.train()
    for step, b in enumerate(kept):
        lr = settings.lr * min(
            (step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))
        )
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss = batch_loss(
            model,
            [data.ids[i] for i in b],
            [data.prompt_len[i] for i in b],
            device,
            settings.decision_weight,
            pad,
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        seen += len(b)
        steps += 1
        losses.append(float(loss.detach()))
        if steps % 50 == 0:
            log(f"{job.name}: step {steps}/{total} loss {sum(losses[-50:]) / 50:.3f}")
        if time.monotonic() - started > seconds:
            stop = "time budget"
            break
    elapsed = time.monotonic() - started
    stats = {
        "examples_seen": seen,
        "steps": steps,
        "planned_steps": total,
        "train_records": len(job.train),
        "epochs_planned": epoch,
        "train_seconds": round(elapsed, 2),
        "examples_per_s": round(seen / max(elapsed, 1e-9), 2),
        "stopped": stop,
        "loss_first": round(float(np.mean(losses[:10])), 4) if losses else None,
        "loss_last": round(float(np.mean(losses[-10:])), 4) if losses else None,
    }
    return model, stats


def _score_job(
    model: Any, job: Job, data: PackData, settings: RunSettings, device: str
) -> dict[int, float]:
    model.eval()
    prompts = [data.ids[i][: data.prompt_len[i]] for i in job.score]
    tf = (int(data.header["true_id"]), int(data.header["false_id"]))
    p = p_true(model, prompts, device, tf, settings.score_batch, int(data.header["pad_id"]))
    return dict(zip(job.score, p, strict=True))


def _save_final(model: Any, out: Path, record: dict[str, Any]) -> None:
    """The final PEFT adapter, its training config and dev metrics, as one tar file."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        adapter = Path(tmp) / "adapter"
        # The packed base's embedding is cut to the data's tokens: never save it (the
        # adapter alone, LoRA on the projections, applies to the full-vocabulary base).
        model.save_pretrained(str(adapter), save_embedding_layers=False)
        (adapter / "train_config.json").write_text(json.dumps(record["config"], indent=2) + "\n")
        (adapter / "dev_metrics.json").write_text(json.dumps(record["metrics"], indent=2) + "\n")
        buf = out / "final-adapter.tar.tmp"
        with tarfile.open(buf, "w") as tar:
            for f in sorted(adapter.iterdir()):
                tar.add(f, arcname=f"adapter/{f.name}")
        buf.replace(out / "final-adapter.tar")


def _keep_scores(path: Path, finished: set[str]) -> None:
    """Drop the score lines of jobs that did not finish (a run stopped mid-job)."""
    if not path.is_file():
        return
    lines = [
        line
        for line in path.read_text().splitlines()
        if line.strip() and json.loads(line)["job"] in finished
    ]
    _atomic_write(path, "".join(line + "\n" for line in lines))


def run(
    data_path: Path,
    base_path: Path,
    out: Path,
    settings: RunSettings,
    device: str | None = None,
    log: LogFn = print,
    dry_run: bool = False,
) -> dict[str, Any]:
    """The whole device run; returns what ``run.json`` holds."""
    clock = Clock(settings.budget_s)
    import torch

    from vulnsight.train.packed_base import load_packed_model

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out.mkdir(parents=True, exist_ok=True)
    data = load_pack_data(data_path)
    jobs = [
        j
        for j in fold_plan(data.examples, settings.folds)
        if not (settings.skip_final and j.name == "final")
    ]
    folds_path = out / "folds.json"
    done: dict[str, Any] = json.loads(folds_path.read_text()) if folds_path.is_file() else {}
    finished = {k for k, v in done.items() if v.get("status") == "done"}
    if (out / "final-adapter.tar").is_file() and done.get("final", {}).get("status") != "done":
        (out / "final-adapter.tar").unlink()  # written, but the run stopped before its record
    _keep_scores(out / "scores.jsonl", finished)
    run_info: dict[str, Any] = {
        "settings": asdict(settings),
        "data": data.header,
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "jobs": [{"name": j.name, "train": len(j.train), "score": len(j.score)} for j in jobs],
        "skipped_as_finished": sorted(finished),
    }
    log(f"plan: {len(jobs)} jobs; finished before: {sorted(finished) or 'none'}")
    if dry_run:
        run_info["dry_run"] = True
        _atomic_write(out / "run.json", json.dumps(run_info, indent=1) + "\n")
        return run_info
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    base, meta = load_packed_model(base_path, dtype=dtype, device=device)
    for p in base.parameters():
        p.requires_grad_(False)
    run_info["load_seconds"] = round(clock.used(), 1)
    log(f"base loaded on {device} in {run_info['load_seconds']} s ({meta['source']})")
    todo = [j for j in jobs if j.name not in finished]
    reserve_score = 10.0 if device == "cuda" else 1.0
    for n, job in enumerate(todo):
        left = clock.left() - reserve_score * (len(todo) - n)
        folds_left = sum(1 for j in todo[n:] if j.name != "final")
        final_left = any(j.name == "final" for j in todo[n:])
        if job.name == "final":
            seconds = left
        else:
            share = (1 - settings.final_share) if final_left else 1.0
            seconds = left * share / max(1, folds_left)
        if seconds < settings.min_job_s:
            log(f"{job.name}: skipped, {seconds:.0f} s left")
            done[job.name] = {"status": "skipped", "reason": f"{seconds:.0f} s left"}
            _atomic_write(folds_path, json.dumps(done, indent=1) + "\n")
            continue
        cap = settings.final_examples if job.name == "final" else settings.fold_examples
        log(
            f"{job.name}: {len(job.train)} training records, up to {seconds:.0f} s / {cap} examples"
        )
        model, stats = _train_job(base, job, data, settings, device, seconds, cap, log)
        started = time.monotonic()
        scores = _score_job(model, job, data, settings, device)
        stats["score_seconds"] = round(time.monotonic() - started, 2)
        stats["ms_per_scored"] = round(1000 * stats["score_seconds"] / max(1, len(job.score)), 3)
        metrics = job_metrics(job, data.examples, scores)
        with (out / "scores.jsonl").open("a") as fh:
            for i, p in sorted(scores.items()):
                fh.write(
                    json.dumps({"job": job.name, "id": data.examples[i]["id"], "p": round(p, 5)})
                    + "\n"
                )
        record = {
            "status": "done",
            "held_out": job.held_out,
            "stats": stats,
            "metrics": metrics,
            "config": {**asdict(settings), "job": job.name, "base": meta["source"]},
        }
        if job.name == "final":
            _save_final(model, out, record)
        done[job.name] = record
        _atomic_write(folds_path, json.dumps(done, indent=1) + "\n")
        test = metrics.get("test", {}).get("all", {})
        log(
            f"{job.name}: {stats['examples_seen']} examples in {stats['train_seconds']} s "
            f"({stats['examples_per_s']}/s, {stats['stopped']}); test J {test.get('youden_j')} "
            f"pairs {test.get('pair_correct')}"
        )
        base = model.unload()  # the base without this job's adapters, for the next one
    run_info["seconds"] = round(clock.used(), 1)
    run_info["finished"] = sorted(k for k, v in done.items() if v.get("status") == "done")
    if (out / "final-adapter.tar").is_file():
        run_info["finished"] = sorted({*run_info["finished"], "final"})
    _atomic_write(out / "run.json", json.dumps(run_info, indent=1) + "\n")
    return run_info


def check(
    data_path: Path, config_path: Path, device: str | None = None, log: LogFn = print
) -> dict[str, Any]:
    """A seconds-long check of the device's software before the base has arrived: the
    packed base's architecture with random weights, LoRA wrapped and unloaded, one
    training step and one scoring batch on real examples of the data pack."""
    import peft
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    started = time.monotonic()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    data = load_pack_data(data_path)
    cfg = json.loads(config_path.read_text())
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = model.to(dtype=dtype, device=device)
    for p in model.parameters():
        p.requires_grad_(False)
    job = Job(
        "check", None, tuple(range(min(8, len(data.ids)))), tuple(range(min(8, len(data.ids))))
    )
    settings = RunSettings(batch_size=4, fold_examples=8)
    peft_model, stats = _train_job(model, job, data, settings, device, 60.0, 8, log)
    scores = _score_job(peft_model, job, data, settings, device)
    peft_model.unload()
    out = {
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "examples": len(data.ids),
        "train_step": stats,
        "scores": [round(s, 4) for s in scores.values()],
        "seconds": round(time.monotonic() - started, 1),
    }
    log(json.dumps(out))
    return out
