"""Device benchmark: training examples/s and scanning ms/function on this machine's
accelerator (or CPU), through vulnsight's own code paths, in one short run.

* training: `vulnsight train`'s `run_training` on a seeded sample of labelled records
  (LoRA on bf16 weights, and QLoRA NF4 when bitsandbytes works), per batch size;
  examples/s = examples consumed / training-loop seconds (loading and rendering the
  data are not counted);
* scanning: the transformers backend's `decide` on a fixed sample of functions per
  batch size (ms/function), plus synthetic contexts of fixed lengths;
* peak GPU memory per phase (`torch.cuda.max_memory_allocated`), peak RSS on the CPU.

The model is a Gemma-3-270M-shaped network built from its config (random weights:
speed only, not quality) with the real Gemma 3 tokenizer, or any Hugging Face
directory (`--model DIR`). The 253 MB embedded GGUF cannot travel to a lent device
(64 MiB per call), so prepare what travels first, here:

    python benchmarks/device_bench.py --prepare benchmarks/.cache/device
    # on the device (carry benchmarks/.cache/device):
    python benchmarks/device_bench.py --assets benchmarks/.cache/device

Tiny CPU smoke run (a 2-layer model and a word-level tokenizer, about a minute):

    python benchmarks/device_bench.py --tiny --data records.jsonl --train-examples 16 \
        --scan-functions 8 --batch-sizes 1,4 --scan-batches 1,4 --lengths 128
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DEFAULT_DATA = [
    Path("/work/shared/datasets") / f"{name}.jsonl"
    for name in ("juliet_c_cpp", "sven_dev", "cyberseceval_icd", "securityeval", "solidifi")
]


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sample_records(paths: list[Path], n: int, seed: int) -> list[dict[str, Any]]:
    """A seeded sample of `n` records, both labels, from the given JSONL files."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        if path.is_file():
            rows.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    if not rows:
        raise SystemExit(f"no records in {', '.join(map(str, paths))}")
    random.Random(seed).shuffle(rows)
    return rows[:n]


def build_model(work: Path, tokenizer: Path | None, tiny: bool) -> Path:
    """A Gemma-3-shaped model directory from its config (random weights, seeded)."""
    from vulnsight.train.tiny import build_gemma3

    if not tiny and tokenizer is None:
        raise SystemExit("a Gemma-3-shaped model needs --assets (see --prepare) or --model")
    return build_gemma3(work / ("tiny-gemma3" if tiny else "gemma3-270m-shaped"), tokenizer, tiny)


def prepare(assets: Path, data: list[Path], n: int, seed: int) -> None:
    """Write what travels to a device: the Gemma 3 tokenizer (from the embedded GGUF) and
    a record sample."""
    from transformers import AutoTokenizer

    from vulnsight.llm.hf import load_tokenizer
    from vulnsight.llm.models import embedded_model_path

    assets.mkdir(parents=True, exist_ok=True)
    gguf = embedded_model_path()
    tok = load_tokenizer(AutoTokenizer, gguf.parent, gguf.name)  # cached after the first read
    tok.save_pretrained(assets / "tokenizer")
    rows = sample_records(data, n, seed)
    (assets / "records.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    size = sum(p.stat().st_size for p in assets.rglob("*") if p.is_file())
    _log(f"prepared {assets} ({size / 2**20:.1f} MiB): tokenizer + {len(rows)} records")


def _peak(reset: bool = False) -> dict[str, float]:
    import torch

    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if torch.cuda.is_available():
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        if reset:
            torch.cuda.reset_peak_memory_stats()
    return out


def bench_training(
    model_dir: Path, records: Path, work: Path, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], Path | None]:
    """`run_training` per (mode, batch size); returns rows and one trained model dir."""
    import torch

    from vulnsight.train import model as train_model
    from vulnsight.train.config import TrainConfig
    from vulnsight.train.run import run_training

    modes = ["lora"]
    if torch.cuda.is_available() and train_model.bitsandbytes_status()[0]:
        modes.append("qlora")
    real_status = train_model.bitsandbytes_status
    rows: list[dict[str, Any]] = []
    trained: Path | None = None
    for mode in modes:
        for batch in args.batch_sizes:
            if time.monotonic() > args.deadline:
                _log("time budget reached: skipping the remaining training runs")
                return rows, trained
            out = work / f"train-{mode}-b{batch}"
            train_model.bitsandbytes_status = (  # type: ignore[assignment]
                real_status if mode == "qlora" else lambda: (False, "benchmark: LoRA bf16 run")
            )
            config = TrainConfig(
                base=str(model_dir),
                data=(records,),
                out=out,
                max_train=args.train_examples,
                max_dev=args.dev_examples,
                max_length=args.max_length,
                batch_size=batch,
                grad_accum=max(1, 8 // batch),
                eval_every=10**6,
                dev_fraction=0.2,
                precision=args.precision,
                max_minutes=args.train_minutes,
            )
            notes: list[str] = []

            def on_event(kind: str, payload: dict[str, Any], notes: list[str] = notes) -> None:
                if kind == "plan":
                    notes.append(payload["note"])

            _peak(reset=True)
            try:
                run_training(config, on_event)
            except torch.OutOfMemoryError as exc:
                rows.append({"mode": mode, "batch": batch, "error": f"out of memory: {exc}"[:200]})
                continue
            finally:
                train_model.bitsandbytes_status = real_status  # type: ignore[assignment]
            state = json.loads((out / "checkpoint" / "state.json").read_text())
            row = {
                "mode": mode,
                "batch": batch,
                "examples": state["seen"],
                "steps": state["step"],
                "seconds": round(state["seconds"], 2),
                "examples_per_s": round(state["seen"] / max(state["seconds"], 1e-9), 2),
                "plan": notes[-1] if notes else "",
                **_peak(),
            }
            _log(f"train {row}")
            rows.append(row)
            trained = out
    return rows, trained


def bench_scanning(
    model_dir: Path, adapter: Path | None, records: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """`decide` on a fixed sample of real functions per batch size, and fixed lengths."""
    from vulnsight.bench.records import load_records
    from vulnsight.llm.hf import TransformersBackend
    from vulnsight.train.data import to_example

    _peak(reset=True)
    backend = TransformersBackend(model_dir, adapter=adapter, dtype=args.precision)
    recs = load_records([records])[: args.scan_functions]
    prompts = [to_example(r, backend.count_tokens, args.max_length - 300).prompt for r in recs]
    tokens = sorted(backend.count_tokens(p.text) for p in prompts)
    rows: list[dict[str, Any]] = []
    for batch in args.scan_batches:
        if time.monotonic() > args.deadline:
            break
        backend.batch_size = batch
        backend.decide(prompts[: min(len(prompts), batch)])  # warm-up
        start = time.perf_counter()
        backend.decide(prompts)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "batch": batch,
                "functions": len(prompts),
                "ms_per_function": round(1000 * seconds / len(prompts), 3),
                **_peak(),
            }
        )
        _log(f"scan {rows[-1]}")
    lengths: list[dict[str, Any]] = []
    for length in args.lengths:
        if time.monotonic() > args.deadline:
            break
        ids = [[backend._bos[0] if backend._bos else 2] + [7] * (length - 1)]
        backend.last_logits(ids)
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            backend.last_logits(ids)
            runs.append(time.perf_counter() - start)
        lengths.append(
            {
                "tokens": length,
                "batch": 1,
                "ms_per_function": round(1000 * sorted(runs)[1], 3),
                **_peak(),
            }
        )
        _log(f"length {lengths[-1]}")
    return {
        "device": backend.device,
        "dtype": backend.dtype,
        "adapter": str(adapter) if adapter else "",
        "prompt_tokens": {"min": tokens[0], "median": tokens[len(tokens) // 2], "max": tokens[-1]},
        "by_batch": rows,
        "by_length": lengths,
    }


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--prepare", type=Path, help="write tokenizer + record sample here and stop")
    p.add_argument("--assets", type=Path, help="what --prepare wrote (tokenizer, records)")
    p.add_argument("--model", type=Path, help="a Hugging Face model directory instead")
    p.add_argument("--tiny", action="store_true", help="a 2-layer model (CPU smoke test)")
    p.add_argument("--data", type=Path, nargs="*", help="record JSONL (default: shared corpora)")
    p.add_argument("--train-examples", type=int, default=1000)
    p.add_argument("--dev-examples", type=int, default=32)
    p.add_argument("--max-length", type=int, default=768)
    p.add_argument("--batch-sizes", type=_ints, default=[8, 32])
    p.add_argument("--scan-functions", type=int, default=256)
    p.add_argument("--scan-batches", type=_ints, default=[1, 16, 64, 256])
    p.add_argument("--lengths", type=_ints, default=[1024, 8192])
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    p.add_argument("--train-minutes", type=float, default=1.5, help="cap per training run")
    p.add_argument("--budget-minutes", type=float, default=7.5, help="stop starting phases")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".cache" / "device-work")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)
    started = time.monotonic()
    args.deadline = started + args.budget_minutes * 60
    data = list(args.data or [])
    if args.prepare:
        prepare(args.prepare, data or DEFAULT_DATA, args.train_examples + args.scan_functions, 0)
        return 0
    import torch

    args.work.mkdir(parents=True, exist_ok=True)
    if args.assets and not data:
        data = [args.assets / "records.jsonl"]
    rows = sample_records(
        data or DEFAULT_DATA, args.train_examples + args.scan_functions, args.seed
    )
    train_path, scan_path = args.work / "train.jsonl", args.work / "scan.jsonl"
    train_path.write_text("\n".join(json.dumps(r) for r in rows[: args.train_examples]) + "\n")
    scan_path.write_text("\n".join(json.dumps(r) for r in rows[args.train_examples :]) + "\n")
    if args.model:
        model_dir = args.model
    else:
        tokenizer = args.assets / "tokenizer" if args.assets else None
        model_dir = build_model(args.work, tokenizer, args.tiny)
    _log(f"model {model_dir}; cuda={torch.cuda.is_available()}")
    training, trained = bench_training(model_dir, train_path, args.work, args)
    adapter = trained / "adapter" if trained and (trained / "adapter").is_dir() else None
    scanning = bench_scanning(model_dir, adapter, scan_path, args)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor()
    result = {
        "benchmark": "device_bench",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": device or platform.machine(),
        "cuda": torch.cuda.is_available(),
        "torch": torch.__version__,
        "model": str(model_dir) if args.model else ("tiny" if args.tiny else "gemma-3-270m-shaped"),
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k != "deadline"
        },
        "training": training,
        "scanning": scanning,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "tiny" if args.tiny else ("cuda" if torch.cuda.is_available() else "cpu")
    path = args.out / f"device_bench-{tag}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    _log(f"wrote {path} in {result['seconds']} s")
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
