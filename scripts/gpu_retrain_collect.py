"""Back on the CPU after a GPU retraining run (issue 16): turn what the device returned
into (1) a scanner model directory with the final adapter exported for llama.cpp and
(2) the leave-one-source-out table of the LoRA folds beside rules and data flow.

    PYTHONPATH=src python scripts/gpu_retrain_collect.py \
        --results /work/.device/.../retrain --pack benchmarks/.cache/gpu-retrain \
        --out gpu-retrain-out

Writes ``OUT/model/`` (``adapter/`` PEFT, ``adapter.gguf``, ``vulnsight-model.json``,
``MODEL_CARD.md``: `vulnsight scan --model OUT/model`) and ``OUT/loso/`` (``LOSO.md``,
``loso.json``, ``model-decision.json``; rule and data-flow verdicts cached in
``OUT/loso/detectors``, as `vulnsight eval --loso` caches them), and ``OUT/dev.jsonl``,
``OUT/clean-heldout.jsonl``: the records no adapter trained on, for `vulnsight
calibrate`. `--no-rules` leaves the
rule and flow rows empty (a quick look at the folds alone).
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _log(msg: str) -> None:
    print(f"[collect] {msg}", file=sys.stderr, flush=True)


def export_model(results: Path, out: Path, base: str) -> Path:
    """The final adapter as a model directory (PEFT + llama.cpp LoRA GGUF)."""
    from vulnsight.train.export import write_model_dir
    from vulnsight.train.tiny import GEMMA3_270M

    folds = json.loads((results / "folds.json").read_text())
    final = folds["final"]
    src = out / "final-adapter"
    with tarfile.open(results / "final-adapter.tar") as tar:
        tar.extractall(src, filter="data")
    adapter = src / "adapter"
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    if base == "default":
        config: Any = SimpleNamespace(
            model_type="gemma3_text", num_hidden_layers=GEMMA3_270M["num_hidden_layers"]
        )
        base_gguf, manifest_base, backend = "default", {"location": "default"}, "llamacpp"
    else:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(base)
        base_gguf, manifest_base, backend = (
            "",
            {"location": str(Path(base).resolve())},
            "transformers",
        )
    metrics = final["metrics"]
    card = "\n".join(
        [
            f"# vulnsight model card: {out.name} (GPU retraining, issue 16)",
            "",
            f"* **Base:** {base}; LoRA r={cfg['r']}, alpha={cfg['lora_alpha']} on "
            f"{', '.join(sorted(cfg['target_modules']))}",
            f"* **Training:** {json.dumps(final['stats'])}",
            f"* **Config:** {json.dumps(final['config'])}",
            "",
            "## Development and held-out clean code (final adapter)",
            "",
            "```json",
            json.dumps(
                {k: metrics.get(k) for k in ("thresholds", "dev", "clean_heldout")}, indent=1
            ),
            "```",
            "",
            "Per-language thresholds for scanning come from `vulnsight calibrate` (README).",
            "",
        ]
    )
    model_dir = out / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    write_model_dir(
        model_dir,
        adapter,
        config,
        float(cfg["lora_alpha"]),
        base_gguf,
        float(metrics.get("threshold_fallback", 0.5)),
        card,
        {
            "base": base,
            "base_model": manifest_base,
            "backend": backend,
            "dev_metrics": metrics.get("dev", {}),
            "train_seconds": final["stats"].get("train_seconds"),
        },
    )
    if (
        not base_gguf
    ):  # an HF base: export the GGUF LoRA as well (llama.cpp runs it on a conversion)
        from safetensors.torch import load_file

        from vulnsight.train.export import LORA_GGUF, lora_to_gguf

        state = load_file(str(model_dir / "adapter" / "adapter_model.safetensors"))
        lora_to_gguf(state, config, float(cfg["lora_alpha"]), model_dir / LORA_GGUF)
    return model_dir


def loso_table(results: Path, pack: Path, out: Path, rules: bool) -> dict[str, Any]:
    """The LoRA folds' LOSO table beside rules and data flow, written to `out`."""
    import numpy as np

    from vulnsight.bench.loso import LosoSettings, model_decision, render_markdown
    from vulnsight.bench.loso_features import RecordInputs
    from vulnsight.bench.loso_lora import FoldScores, evaluate_lora
    from vulnsight.train.retrain_data import read_jsonl

    with np.load(pack / "data" / "data.npz") as z:
        meta = json.loads(bytes(z["meta"]).decode())
    info = {e["id"]: e for e in meta["examples"]}
    scores: dict[str, dict[str, float]] = {}
    for line in (results / "scores.jsonl").read_text().splitlines():
        s = json.loads(line)
        scores.setdefault(s["job"], {})[s["id"]] = float(s["p"])
    folds = json.loads((results / "folds.json").read_text())
    fold_scores = []
    for job, got in sorted(scores.items()):
        if not job.startswith("fold:") or folds.get(job, {}).get("status") != "done":
            continue
        held = job.removeprefix("fold:")
        test = {i: p for i, p in got.items() if info[i]["test"] and info[i]["source"] == held}
        dev = {i: p for i, p in got.items() if info[i]["dev"] and info[i]["source"] != held}
        fold_scores.append(FoldScores(held, test, dev))
    calib = {
        i for i, e in info.items() if (e["dev"] or e["clean_heldout"]) and e["kind"] == "original"
    }
    needed = {i for f in fold_scores for i in (*f.test, *f.dev)} | calib
    inputs_paths = meta["inputs"]
    paths = [Path(p) for p in inputs_paths["data"] + inputs_paths["clean"]]
    if inputs_paths["fixes"]:
        paths.append(Path(inputs_paths["fixes"]))
    records = {r.id: r for p in paths for r in read_jsonl(p) if r.id in needed}
    missing = needed - set(records)
    if missing:
        raise SystemExit(f"{len(missing)} scored records not found in the pack's inputs")
    out.mkdir(parents=True, exist_ok=True)
    # What no adapter trained on, in the record schema, for `vulnsight calibrate`.
    from vulnsight.bench.records import record_row

    for name, role in (("dev.jsonl", "dev"), ("clean-heldout.jsonl", "clean_heldout")):
        rows = [record_row(records[i]) for i in sorted(calib) if info[i][role]]
        (out.parent / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    scored = {i for f in fold_scores for i in (*f.test, *f.dev)}
    records = {i: r for i, r in records.items() if i in scored}
    if rules:
        from vulnsight.bench.adapters.vulnsight_detectors import VulnsightAdapter
        from vulnsight.bench.loso_features import record_inputs
        from vulnsight.bench.runner import Runner

        recs = sorted(records.values(), key=lambda r: r.id)
        outcome = Runner(out / "detectors", progress=lambda s, d, t: _log(f"{s}: {d}/{t}")).run(
            [VulnsightAdapter("rules"), VulnsightAdapter("flow")], recs
        )
        inputs = record_inputs(
            recs,
            outcome.predictions.get(("rules", "none"), {}),
            outcome.predictions.get(("flow", "none"), {}),
            None,
            [],
            None,
        )
    else:
        inputs = {i: RecordInputs() for i in records}
    settings = LosoSettings()
    result = evaluate_lora(records, inputs, fold_scores, settings)
    result["rules_run"] = rules
    decision = model_decision(result, detector="hybrid-lora-combiner")
    (out / "loso.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "model-decision.json").write_text(json.dumps(decision, indent=2) + "\n")
    (out / "LOSO.md").write_text(render_markdown(result, decision))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--results", type=Path, required=True, help="the device's retrain/ folder")
    p.add_argument("--pack", type=Path, default=ROOT / "benchmarks/.cache/gpu-retrain")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--base", default="default", help="'default' or the tiny base's HF directory")
    p.add_argument("--no-rules", action="store_true", help="skip the rule/flow runs")
    args = p.parse_args(argv)
    if (args.results / "final-adapter.tar").is_file():
        model = export_model(args.results, args.out, args.base)
        _log(f"model directory: {model}")
    else:
        _log("no final adapter in the results (the run stopped before it)")
    result = loso_table(args.results, args.pack, args.out / "loso", not args.no_rules)
    n_folds, n_records = len(result["folds"]), result["records"]
    _log(f"LOSO table of {n_folds} folds, {n_records} records: {args.out / 'loso'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
