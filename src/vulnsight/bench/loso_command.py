"""`vulnsight eval --loso`: the leave-one-source-out table, end to end (the I/O edge).

Loads and samples the corpora, computes every record's inputs once (rules and data-flow
predictions through the eval runner, the base model's decision-point logits through
llama.cpp), caches them in ``--out`` so a rerun resumes, then hands them to the pure
core (`bench.loso`) and writes ``loso.json``, ``LOSO.md`` and ``model-decision.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from vulnsight.bench.records import SEMGREP_FITTED_SOURCE, Record
from vulnsight.errors import ConfigError

#: The base model whose logits feed the decision head: the untuned embedded GGUF, never
#: the shipped adapter (it was trained on these corpora, so it is not leave-one-out).
HEAD_BASE = "base"
#: Saved detectors not shown beside: nothing trained (rules) or not the default (base).
SKIP_SHIPPED = frozenset({"rules", "llm[base]"})


def _log(stage: str, done: int, total: int) -> None:
    click.echo(f"[loso] {stage}: {done}/{total}", err=True)


def loso_records(args: dict[str, Any]) -> tuple[list[Record], dict[str, Any]]:
    """The sampled records (reserved projects and the development-only source dropped)."""
    from vulnsight.bench.records import filter_reserved, load_records, sample_records

    records = load_records(list(args["data"]))
    dropped = 0
    if not args["include_reserved"]:
        records, dropped = filter_reserved(records)
    dev_only = sum(1 for r in records if r.source == SEMGREP_FITTED_SOURCE)
    records = [r for r in records if r.source != SEMGREP_FITTED_SOURCE]
    records = sample_records(records, args["sample"], args["seed"])
    if not records:
        raise ConfigError("no records to evaluate")
    return records, {"reserved_dropped": dropped, "dev_only_dropped": dev_only}


def run_loso(args: dict[str, Any]) -> None:
    """The `--loso` branch of `vulnsight eval` (args: the eval command's parameters)."""
    from vulnsight.bench.adapters.vulnsight_detectors import VulnsightAdapter
    from vulnsight.bench.loso_features import (
        record_inputs,
    )
    from vulnsight.bench.runner import Runner

    out_dir: Path = args["out_dir"]
    records, dropped = loso_records(args)
    out_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "command": "vulnsight eval " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "",
        "data": [str(p) for p in args["data"]],
        "sample_per_source": args["sample"],
        "seed": args["seed"],
        # --model replaces the base (a model trained on these corpora is then not LOSO)
        "head_base": args["model"] or HEAD_BASE,
        "head_budget_tokens": args["loso_budget"],
        "clean_flag_cap": args["loso_cap"],
        **dropped,
    }
    if args["fresh"]:
        for name in ("detectors", "head_features.jsonl"):
            target = out_dir / name
            if target.is_dir():
                import shutil

                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", "utf-8")
    (out_dir / "sample_ids.txt").write_text("\n".join(r.id for r in records) + "\n", "utf-8")
    started = time.monotonic()
    adapters = [VulnsightAdapter("rules"), VulnsightAdapter("flow")]
    outcome = Runner(out_dir / "detectors", progress=_log).run(adapters, records)
    if outcome.unavailable:
        raise ConfigError(f"detectors unavailable: {outcome.unavailable}")
    rules = outcome.predictions.get(("rules", "none"), {})
    flow = outcome.predictions.get(("flow", "none"), {})
    require_verdicts({"rules": rules, "flow": flow})
    cache, token_ids, true_false = _head_features(records, out_dir, args)
    inputs = record_inputs(records, rules, flow, cache, token_ids, true_false)
    from vulnsight.bench.loso import LosoSettings, evaluate, model_decision, render_markdown

    settings = LosoSettings(clean_flag_cap=args["loso_cap"], seed=args["seed"])
    result = evaluate(records, inputs, settings, progress=_log)
    result["shipped"] = _shipped_default(args.get("loso_shipped"), args)
    from vulnsight.bench.loso import shipped_hybrid_rows

    result["by_language"] += shipped_hybrid_rows(result["by_language"], *_shipped_thresholds())
    result["config"] = config
    result["seconds"] = round(time.monotonic() - started, 1)
    decision = model_decision(result)
    (out_dir / "loso.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    (out_dir / "model-decision.json").write_text(json.dumps(decision, indent=2) + "\n", "utf-8")
    board = render_markdown(result, decision)
    (out_dir / "LOSO.md").write_text(board, encoding="utf-8")
    click.echo(board)


def require_verdicts(predictions: dict[str, dict[str, Any]]) -> None:
    """Refuse to score records a detector failed on (e.g. Semgrep ran out of time on a
    loaded machine): counted as "not flagged" they would pass for misses and clean
    verdicts, and the table would measure the failure, not the detector."""
    for name, preds in predictions.items():
        failed = [p for p in preds.values() if getattr(p, "error", None)]
        if failed:
            raise ConfigError(
                f"{name} gave no verdict on {len(failed)} of {len(preds)} records "
                f"({failed[0].error}); rerun with --fresh (on a less loaded machine)"
            )


def _shipped_thresholds() -> tuple[dict[str, float], float]:
    """The shipped model's per-language thresholds (infinite where it is off) and default,
    as the scanner resolves them, without loading the model."""
    from vulnsight.detectors import DEFAULT_LLM_THRESHOLD
    from vulnsight.llm.models import resolve

    kwargs = resolve(None).kwargs
    threshold = kwargs.get("threshold")
    return (
        dict(kwargs.get("language_thresholds") or {}),
        DEFAULT_LLM_THRESHOLD if threshold is None else float(threshold),
    )


def _head_features(
    records: list[Record], out_dir: Path, args: dict[str, Any]
) -> tuple[Any, list[int], tuple[int, int] | None]:
    """Decision-point logits of the base model for every record (cached, resumable)."""
    if args["loso_no_model"]:
        return None, [], None
    from vulnsight.bench.loso_features import FeatureCache, cache_settings, extract_logits
    from vulnsight.llm.head import feature_tokens
    from vulnsight.llm.models import load

    model = args["model"] or HEAD_BASE
    backend: Any = load(model, n_threads=args["loso_threads"])
    try:
        true_false = tuple(backend.true_false_ids)
        ids = [int(t) for t in feature_tokens(backend._llm.n_vocab(), always=true_false)]
        cache = FeatureCache(
            out_dir / "head_features.jsonl", cache_settings(model, ids, args["loso_budget"])
        )
        if args["loso_extract"]:
            extract_logits(records, backend, cache, ids, args["loso_budget"], _log)
    finally:
        backend.close()
    return cache, ids, (int(true_false[0]), int(true_false[1]))


def _shipped_default(path: Path | None, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the shipped default's saved test predictions (hybrid and model), scored
    against the full corpora's labels: shown beside, marked not leave-one-source-out."""
    if path is None:
        return []
    import gzip

    from vulnsight.bench.loso import Verdict, shipped_rows
    from vulnsight.bench.records import filter_reserved, load_records

    records, _ = filter_reserved(load_records(list(args["data"])))
    by_id = {r.id: r for r in records if r.source != SEMGREP_FITTED_SOURCE}
    opener: Any = gzip.open if path.suffix == ".gz" else open
    verdicts: dict[str, dict[str, Verdict]] = {}
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj.get("perturbation", "none") != "none" or obj["detector"] in SKIP_SHIPPED:
                continue
            name = f"shipped {obj['detector']}"
            verdicts.setdefault(name, {})[str(obj["record_id"])] = Verdict(
                bool(obj["predicted"]), float(obj["score"])
            )
    return shipped_rows(by_id, verdicts)
