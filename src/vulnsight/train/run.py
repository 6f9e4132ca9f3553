"""`run_training(config)`: data -> examples -> LoRA training -> model directory."""

from __future__ import annotations

import json
import platform
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from vulnsight.train.config import TrainConfig
from vulnsight.train.data import Record, load_records, split_records, to_example
from vulnsight.train.export import write_model_dir
from vulnsight.train.model import (
    add_adapters,
    enable_checkpointing,
    load_base,
    resolve_base,
    wants_checkpointing,
)
from vulnsight.train.trainer import EventFn, encode, evaluate, train

#: Licences of the shared corpora, for the model card.
LICENCES = {
    "juliet": "public domain (NIST SARD Juliet 1.3)",
    "sven": "MIT (code: upstream projects' licences)",
    "cyberseceval": "MIT (PurpleLlama CybersecurityBenchmarks)",
    "solidifi": "MIT (injections); base contracts: Etherscan code",
    "securityeval": "no licence file: research use",
    "llmseceval": "GPL-3.0",
    "semgrep_rules_tests": "LGPL-2.1 + Commons Clause",
    "vulnsight-feedback": "the user's own triage decisions",
    "mature-clean": "each package's own licence (presumed-clean functions)",
}


def licence_of(source: str) -> str:
    """The licence line of a record source ('juliet_c_cpp' matches 'juliet')."""
    for key, text in LICENCES.items():
        if source == key or source.startswith(key + "_"):
            return text
    return "see the source's own terms"


def _budget(config: TrainConfig, prefix_tokens: int) -> int:
    # room for the verdict (~30 tokens) and a margin for tokenizer differences
    return max(128, config.max_length - prefix_tokens - 48)


def _card(
    config: TrainConfig,
    label: str,
    note: str,
    counts: dict[str, Any],
    best: dict[str, Any],
    state_seconds: float,
    device: str,
    seen: int = 0,
    steps: int = 0,
) -> str:
    sources = sorted(counts["train_by_source"])
    lines = [
        f"# vulnsight model card: {config.out.name}",
        "",
        f"* **Base:** {label}",
        f"* **Method:** {note}; LoRA r={config.rank}, alpha={config.alpha}, "
        f"dropout={config.dropout}, targets {', '.join(config.target_modules)}",
        f"* **Prompt:** the scanner's own template and verdict schema; loss on the verdict "
        f"tokens, the true/false token weighted x{config.decision_weight}",
        f"* **Hardware:** {device}, {platform.machine()}; training time "
        f"{state_seconds / 60:.1f} min",
        f"* **Data:** {counts['train']} training / {counts['dev']} development examples, "
        + (
            "development set given explicitly (--dev-data), no project in both; "
            if config.dev_data
            else f"split by project (dev fraction {config.dev_fraction}, seed {config.seed}); "
        )
        + f"reserved projects excluded; {seen} examples consumed in {steps} optimiser steps",
        "",
        "| source | train examples | licence |",
        "|---|---:|---|",
        *[f"| {s} | {counts['train_by_source'][s]} | {licence_of(s)} |" for s in sources],
        "",
        "## Development split (best checkpoint)",
        "",
        "```json",
        json.dumps(best, indent=2),
        "```",
        "",
        "## Config",
        "",
        "```json",
        json.dumps(config.to_dict(), indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def _free_gpu_bytes() -> int | None:
    try:
        import torch

        free, _ = torch.cuda.mem_get_info()
        return int(free)
    except (ImportError, RuntimeError):
        return None


def run_training(config: TrainConfig, on_event: EventFn | None = None) -> Path:
    """Fine-tune `config.base` on `config.data` and write the model directory."""
    emit = on_event or (lambda kind, payload: None)
    started = time.monotonic()
    records = load_records(config.data)
    split = split_records(
        records,
        config.dev_fraction,
        config.seed,
        config.exclude_sources,
        config.max_train,
        dev=load_records(config.dev_data) if config.dev_data else None,
    )
    source = resolve_base(config.base)
    loaded = load_base(source, config.seed, config.precision)
    emit("loaded", {"note": loaded.note, "seconds": round(time.monotonic() - started, 1)})
    tok = loaded.tokenizer

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False))

    rng = random.Random(config.seed)
    probe = to_example(split.train[0] if split.train else split.dev[0], count, 512)
    budget = _budget(config, count(probe.prompt.prefix))

    def examples(recs: list[Record], shift: bool) -> list[Any]:
        # Random start lines teach file line numbers rather than "line 1".
        return [
            encode(
                tok,
                to_example(r, count, budget, rng.randint(1, 400) if shift else 1),
                config.max_length,
            )
            for r in recs
        ]

    train_set = examples(split.train, shift=True)
    dev_records = split.dev[:]
    random.Random(config.seed).shuffle(dev_records)
    dev_set = examples(dev_records[: config.max_dev], shift=False)
    counts = {
        "train": len(train_set),
        "dev": len(dev_set),
        "train_by_source": dict(Counter(r.source for r in split.train)),
    }
    emit("data", counts)
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    model = add_adapters(
        loaded, config.rank, config.alpha, config.dropout, config.target_modules, config.resume
    )
    batch, accum = config.batching(loaded.device)
    widest = max((len(e.prompt_ids) + len(e.target_ids) for e in train_set), default=0)
    checkpointing = wants_checkpointing(
        config.grad_checkpointing,
        loaded.device,
        loaded.model.config,
        batch * widest,
        _free_gpu_bytes() if loaded.device == "cuda" else None,
    )
    if checkpointing:
        enable_checkpointing(model)
    note = (
        f"{loaded.note}; {batch} example(s) per forward pass"
        f"{' (length-bucketed)' if batch > 1 else ''}, {accum} "
        f"pass(es) per step, gradient checkpointing {'on' if checkpointing else 'off'}"
    )
    emit("plan", {"note": note})
    if config.resume is not None or not train_set:
        from vulnsight.train.trainer import decision_ids

        pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        before = evaluate(model, dev_set, loaded.device, decision_ids(tok), batch, pad_id)
        emit("eval", {"step": 0, **before.to_dict()})
    state = train(model, tok, loaded.device, config, train_set, dev_set, config.out, emit)
    (config.out / "history.json").write_text(json.dumps(state.history, indent=2) + "\n")
    best_dir = config.out / "best"
    best = json.loads((best_dir / "dev_metrics.json").read_text()) if best_dir.is_dir() else {}
    card = _card(
        config,
        source.label,
        note,
        counts,
        best,
        state.seconds,
        loaded.device,
        state.seen,
        state.step,
    )
    write_model_dir(
        config.out,
        best_dir if best_dir.is_dir() else config.out / "checkpoint",
        loaded.model.config,
        config.alpha,
        str(Path(config.base_gguf).resolve()) if config.base_gguf else source.base_gguf,
        float(best.get("threshold", 0.5)),
        card,
        {
            "base": source.label,
            "base_model": source.manifest_entry(),
            # GGUF bases ran quantised on llama.cpp before; Hugging Face bases run as trained.
            "backend": "llamacpp" if source.gguf_file else "transformers",
            "dev_metrics": best,
            "train_seconds": round(state.seconds, 1),
        },
    )
    emit("written", {"out": str(config.out)})
    return config.out
