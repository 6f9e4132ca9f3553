"""The fine-tuning loop: weighted verdict loss, periodic development evaluation on the
scanner's own decision (P(true) after the forced reply prefix), best-checkpoint keeping,
and checkpoints that let an interrupted run resume."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vulnsight.train.config import TrainConfig
from vulnsight.train.data import Example
from vulnsight.train.metrics import DevMetrics, dev_metrics

#: on_event(kind, payload): progress for the CLI ("step", "eval", "saved", "stopped").
EventFn = Callable[[str, dict[str, Any]], None]


@dataclass
class Encoded:
    """Token ids of one example: prompt (BOS + prefix + body) and target."""

    prompt_ids: list[int]
    target_ids: list[int]
    label: int
    example: Example


@dataclass
class TrainState:
    """What a checkpoint restores."""

    step: int = 0  # optimiser steps done
    seen: int = 0  # examples consumed in the current ordering
    best_j: float = -2.0
    best_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def encode(tokenizer: Any, ex: Example, max_length: int) -> Encoded:
    """Tokenise the way the llama.cpp backend does: BOS + prefix, then the body alone."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    prefix = tokenizer.encode(ex.prompt.prefix, add_special_tokens=False)
    body = tokenizer.encode(ex.prompt.body, add_special_tokens=False)
    target = tokenizer.encode(ex.target, add_special_tokens=False)
    prompt = bos + prefix + body
    overflow = len(prompt) + len(target) - max_length
    if overflow > 0:  # contexts are budgeted already; this only guards the limit
        prompt = prompt[: len(bos) + len(prefix)] + body[overflow:]
    return Encoded(prompt, target, ex.label, ex)


def decision_ids(tokenizer: Any) -> tuple[int, int]:
    """Token ids of ' true' and ' false' as the first verdict token."""
    t = tokenizer.encode(" true", add_special_tokens=False)
    f = tokenizer.encode(" false", add_special_tokens=False)
    if len(t) != 1 or len(f) != 1:
        raise ValueError("tokenizer splits ' true'/' false'; decision path unsupported")
    return t[0], f[0]


def example_loss(model: Any, enc: Encoded, device: str, decision_weight: float) -> Any:
    """Cross-entropy over the target tokens, the decision token weighted up."""
    import torch

    ids = torch.tensor([enc.prompt_ids + enc.target_ids], device=device)
    n_target = len(enc.target_ids)
    # Only the positions that predict the target need the (262k-wide) output layer.
    logits = model(input_ids=ids, logits_to_keep=n_target + 1).logits[0]
    pred = logits[:-1].float()
    gold = ids[0, len(enc.prompt_ids) :]
    losses = torch.nn.functional.cross_entropy(pred, gold, reduction="none")
    weights = torch.ones_like(losses)
    weights[0] = decision_weight
    return (losses * weights).sum() / weights.sum()


def batch_loss(
    model: Any, encs: Sequence[Encoded], device: str, decision_weight: float, pad_id: int
) -> Any:
    """`example_loss` over a batch in one forward pass: rows left-padded so every target
    ends at the last position, logits computed only for the widest target's positions,
    each row's weighted mean loss averaged over the batch."""
    import torch

    from vulnsight.llm.hf import left_pad

    rows = [e.prompt_ids + e.target_ids for e in encs]
    ids, mask, pos = left_pad(rows, pad_id)
    x = torch.tensor(ids, device=device)
    keep = max(len(e.target_ids) for e in encs) + 1
    logits = model(
        input_ids=x,
        attention_mask=torch.tensor(mask, device=device),
        position_ids=torch.tensor(pos, device=device),
        logits_to_keep=keep,
    ).logits
    pred = logits[:, :-1].float()  # position j predicts token (width - keep + 1 + j)
    gold = x[:, x.shape[1] - keep + 1 :]
    losses = torch.nn.functional.cross_entropy(
        pred.reshape(-1, pred.shape[-1]), gold.reshape(-1), reduction="none"
    ).view(len(encs), keep - 1)
    weights = torch.zeros_like(losses)
    for row, enc in enumerate(encs):
        n = len(enc.target_ids)
        weights[row, keep - 1 - n :] = 1.0
        weights[row, keep - 1 - n] = decision_weight
    per_row = (losses * weights).sum(dim=1) / weights.sum(dim=1)
    return per_row.mean()


def p_true(
    model: Any,
    encs: Sequence[Encoded],
    device: str,
    ids: tuple[int, int],
    batch_size: int = 1,
    pad_id: int = 0,
) -> list[float]:
    """P(vulnerable) as the scanner reads it: softmax over the ' true'/' false' logits
    (length-sorted, left-padded batches when `batch_size` > 1)."""
    import torch

    from vulnsight.llm.hf import left_pad, length_batches

    out: list[float] = [0.0] * len(encs)
    lengths = [len(e.prompt_ids) for e in encs]
    with torch.no_grad():
        for batch in length_batches(lengths, batch_size, 1 << 62):
            if batch_size == 1:
                x = torch.tensor([encs[batch[0]].prompt_ids], device=device)
                last = model(input_ids=x, logits_to_keep=1).logits[:, -1].float()
            else:
                rows, mask, pos = left_pad([encs[i].prompt_ids for i in batch], pad_id)
                last = (
                    model(
                        input_ids=torch.tensor(rows, device=device),
                        attention_mask=torch.tensor(mask, device=device),
                        position_ids=torch.tensor(pos, device=device),
                        logits_to_keep=1,
                    )
                    .logits[:, -1]
                    .float()
                )
            for row, i in enumerate(batch):
                diff = float(last[row, ids[1]] - last[row, ids[0]])
                out[i] = 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, diff))))
    return out


def evaluate(
    model: Any,
    dev: Sequence[Encoded],
    device: str,
    ids: tuple[int, int],
    batch_size: int = 1,
    pad_id: int = 0,
) -> DevMetrics:
    """Development metrics of the current weights."""
    model.eval()
    try:
        scores = p_true(model, dev, device, ids, batch_size, pad_id)
    finally:
        model.train()
    return dev_metrics([e.example for e in dev], scores)


def bucketed(order: Sequence[int], lengths: Sequence[int], batch: int, seed: int) -> list[int]:
    """`order` rearranged so that each run of `batch` consecutive entries has similar
    lengths (sorted within windows of 64 batches, batches shuffled within a window);
    deterministic from `seed`, so a resumed run consumes the same sequence."""
    if batch <= 1:
        return list(order)
    window = batch * 64
    rng = random.Random(seed)
    out: list[int] = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: lengths[i])
        chunks = [part[j : j + batch] for j in range(0, len(part), batch)]
        rng.shuffle(chunks)
        out.extend(i for chunk in chunks for i in chunk)
    return out


def _save_state(path: Path, state: TrainState) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.__dict__, indent=2))
    tmp.replace(path)


def train(
    model: Any,
    tokenizer: Any,
    device: str,
    config: TrainConfig,
    train_set: Sequence[Encoded],
    dev_set: Sequence[Encoded],
    out: Path,
    on_event: EventFn | None = None,
) -> TrainState:
    """Train until the epochs are done or the time budget ends; returns the final state.

    Checkpoints go to `out/checkpoint/` (adapter, optimiser, state) after every
    evaluation, and the best adapter by development Youden's J to `out/best/`. If
    `out/checkpoint/` exists, training resumes from it.
    """
    import torch

    emit = on_event or (lambda kind, payload: None)
    ids = decision_ids(tokenizer)
    batch, accum = config.batching(device)
    per_step = batch * accum
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(params, config.lr, device)
    total_steps = max(1, math.ceil(len(train_set) * config.epochs / per_step))
    warmup = max(1, total_steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return config.lr * (step + 1) / warmup
        return config.lr * max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    ckpt = out / "checkpoint"
    state = TrainState()
    if (ckpt / "state.json").is_file():
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        state = TrainState(**json.loads((ckpt / "state.json").read_text()))
        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location=device))
        emit("resumed", {"step": state.step})

    order = list(range(len(train_set)))
    epochs_needed = max(1, math.ceil(config.epochs))
    schedule = []
    for epoch in range(epochs_needed):
        rng = random.Random(config.seed + epoch)
        perm = order[:]
        rng.shuffle(perm)
        schedule.extend(perm)
    schedule = schedule[: total_steps * per_step]
    lengths = [len(e.prompt_ids) + len(e.target_ids) for e in train_set]
    schedule = bucketed(schedule, lengths, batch, config.seed)

    started = time.monotonic() - state.seconds
    model.train()
    i = state.seen
    stop_reason = "done"
    while i < len(schedule):
        for group in opt.param_groups:
            group["lr"] = lr_at(state.step)
        opt.zero_grad(set_to_none=True)
        loss_sum = 0.0
        passes = 0
        for _ in range(accum):
            if i >= len(schedule):
                break
            if batch == 1:  # the CPU's path, unchanged: one unpadded example per pass
                loss = example_loss(model, train_set[schedule[i]], device, config.decision_weight)
            else:
                encs = [train_set[j] for j in schedule[i : i + batch]]
                loss = batch_loss(model, encs, device, config.decision_weight, pad_id)
            (loss / accum).backward()
            loss_sum += float(loss.detach())
            passes += 1
            i += min(batch, len(schedule) - i)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        state.step += 1
        state.seen = i
        state.seconds = time.monotonic() - started
        emit("step", {"step": state.step, "of": total_steps, "loss": loss_sum / max(1, passes)})
        out_of_time = config.max_minutes is not None and state.seconds > config.max_minutes * 60
        if state.step % config.eval_every == 0 or i >= len(schedule) or out_of_time:
            metrics = evaluate(model, dev_set, device, ids, batch, pad_id)
            record = {"step": state.step, "seconds": round(state.seconds, 1), **metrics.to_dict()}
            state.history.append(record)
            emit("eval", record)
            if metrics.youden_j > state.best_j:
                state.best_j, state.best_step = metrics.youden_j, state.step
                model.save_pretrained(str(out / "best"))
                (out / "best" / "dev_metrics.json").write_text(json.dumps(record, indent=2))
            ckpt.mkdir(parents=True, exist_ok=True)
            model.save_pretrained(str(ckpt))
            torch.save(opt.state_dict(), ckpt / "optimizer.pt")
            _save_state(ckpt / "state.json", state)
            emit("saved", {"step": state.step})
        if out_of_time:
            stop_reason = "time budget reached"
            break
    emit("stopped", {"reason": stop_reason, "step": state.step})
    return state


def _optimizer(params: list[Any], lr: float, device: str) -> Any:
    """Paged 8-bit AdamW on CUDA (bitsandbytes), plain AdamW elsewhere."""
    import torch

    if device == "cuda":
        try:
            import bitsandbytes as bnb

            return bnb.optim.PagedAdamW8bit(params, lr=lr, weight_decay=0.0)
        except ImportError:
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
