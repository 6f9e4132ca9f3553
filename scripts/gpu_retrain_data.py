"""Build what a one-shot GPU retraining run carries (issue 16), on the CPU, before the
device call: the pre-tokenised data and the packed base, under the 64 MiB per call.

    PYTHONPATH=src python scripts/gpu_retrain_data.py \
        --data ../shared/datasets/*.jsonl --fixes /work/cache/fixes-pairs.jsonl.gz \
        --clean ~/.cache/vulnsight-data/mature_clean.jsonl \
        --out benchmarks/.cache/gpu-retrain

Writes (all under --out, which git ignores):

* ``data/data.npz``: every example's token ids (packed vocabulary), prompt lengths and
  what each example is for (`vulnsight.train.retrain_data`);
* ``data/base.npz.parts.json`` and ``stageNN/base.npz.partNN``: the packed base
  (`vulnsight.train.packed_base`) cut into parts of at most --part-mib, one directory
  per device call (a call carries at most 64 MiB, the working tree included);
* ``data/site/gguf``: gguf's pure-Python package (its numpy dequantiser), which the
  device image lacks;
* ``data/base-config.json``: the packed base's config (`gpu_retrain.py --check`);
* ``data/build.json``: counts, sizes, seconds and the exact settings.

`--tiny` packs a 2-layer Gemma-shaped model with a word-level tokenizer instead of the
embedded Gemma 3 270M (CPU tests and `scripts/gpu_retrain.py --cpu-tiny`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vulnsight.train import retrain_data as rd  # noqa: E402


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _tokenizer(tiny: bool, work: Path) -> object:
    from transformers import AutoTokenizer

    if tiny:
        from vulnsight.train.tiny import build_gemma3

        return AutoTokenizer.from_pretrained(str(build_gemma3(work / "tiny-base", None, True)))
    from vulnsight.llm.hf import load_tokenizer
    from vulnsight.llm.models import embedded_model_path

    gguf = embedded_model_path()
    return load_tokenizer(AutoTokenizer, gguf.parent, gguf.name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, nargs="+", required=True, help="corpus JSONL files")
    p.add_argument("--fixes", type=Path, help="mined fix pairs (.jsonl.gz, scripts/mine_fixes.py)")
    p.add_argument(
        "--clean", type=Path, nargs="*", default=[], help="scripts/harvest_clean.py output"
    )
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/.cache/gpu-retrain")
    p.add_argument("--sample", type=int, default=300, help="LOSO test records per source")
    p.add_argument("--per-source", type=int, default=1500, help="most trainable records per source")
    p.add_argument("--perturb-fraction", type=float, default=0.25)
    p.add_argument("--max-records", type=int, help="cap on all records (smoke runs)")
    p.add_argument("--max-length", type=int, default=768)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--part-mib", type=float, default=38.0, help="largest base part per call")
    p.add_argument("--tiny", action="store_true", help="a 2-layer base (CPU tests)")
    args = p.parse_args(argv)
    started = time.monotonic()
    settings = rd.DataSettings(
        sample=args.sample,
        seed=args.seed,
        per_source=args.per_source,
        perturb_fraction=args.perturb_fraction,
        max_records=args.max_records,
        max_length=args.max_length,
    )
    if args.out.exists():
        shutil.rmtree(args.out)
    data_dir = args.out / "data"
    data_dir.mkdir(parents=True)
    corpora = [r for path in args.data for r in rd.read_jsonl(path)]
    if args.fixes is not None:
        corpora += rd.read_jsonl(args.fixes)
    clean = [r for path in args.clean for r in rd.read_jsonl(path)]
    planned = rd.plan_records(corpora, clean, settings)
    if args.max_records is not None:
        planned = rd.cap_planned(planned, args.max_records)
    from vulnsight.bench.perturb import perturb

    planned = rd.add_perturbed(planned, settings.perturb_fraction, settings.seed, perturb)
    _log(f"{len(planned)} records planned in {time.monotonic() - started:.0f} s")
    tok = _tokenizer(args.tiny, args.out / "work")
    t0 = time.monotonic()
    ids, prompt_len, info = rd.build_examples(
        planned, tok, settings, lambda n, total: _log(f"rendered {n}/{total}")
    )
    render_s = time.monotonic() - t0
    true_id = tok.encode(" true", add_special_tokens=False)
    false_id = tok.encode(" false", add_special_tokens=False)
    if len(true_id) != 1 or len(false_id) != 1:
        raise SystemExit("the tokenizer splits ' true'/' false'")
    specials = [t for t in (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) if t is not None]
    from vulnsight.train.packed_base import kept_vocab, pack_gguf_base, pack_hf_base, split_parts

    keep = kept_vocab((t for row in ids for t in row), [*specials, true_id[0], false_id[0]])
    remap = {t: i for i, t in enumerate(keep)}
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    header = {
        "format": "vulnsight-retrain-data/1",
        "settings": settings.__dict__,
        "true_id": remap[true_id[0]],
        "false_id": remap[false_id[0]],
        "pad_id": remap[pad],
        "vocab_kept": len(keep),
        "summary": rd.summary(info),
        "inputs": {
            "data": [str(x) for x in args.data],
            "fixes": str(args.fixes) if args.fixes else None,
            "clean": [str(x) for x in args.clean],
        },
    }
    rd.save_pack_data(data_dir / "data.npz", ids, prompt_len, info, keep, header)
    t0 = time.monotonic()
    base = args.out / "work" / "base.npz"
    if args.tiny:
        pack_hf_base(args.out / "work" / "tiny-base", keep, base)
    else:
        from vulnsight.llm.models import embedded_model_path

        pack_gguf_base(embedded_model_path(), keep, base)
    pack_s = time.monotonic() - t0
    from vulnsight.train.packed_base import read_meta

    base_config = read_meta(base)["config"]
    (data_dir / "base-config.json").write_text(json.dumps(base_config, indent=1) + "\n")
    parts = split_parts(base, int(args.part_mib * 2**20))
    shutil.move(str(base.with_name(base.name + ".parts.json")), data_dir / "base.npz.parts.json")
    stages = []
    for n, part in enumerate(parts):
        stage = args.out / f"stage{n:02d}"
        stage.mkdir()
        shutil.move(str(part), stage / part.name)
        stages.append(stage.name)
    base.unlink()
    import gguf

    shutil.copytree(
        Path(gguf.__file__).parent,
        data_dir / "site" / "gguf",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "scripts"),
    )

    def mib(path: Path) -> float:
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
        return round(sum(f.stat().st_size for f in files) / 2**20, 2)

    build = {
        **{k: v for k, v in header.items() if k != "settings"},
        "settings": settings.__dict__,
        "tiny": args.tiny,
        "data_npz_mib": mib(data_dir / "data.npz"),
        "data_dir_mib": mib(data_dir),
        "stages": {s: mib(args.out / s) for s in stages},
        "render_seconds": round(render_s, 1),
        "pack_seconds": round(pack_s, 1),
        "seconds": round(time.monotonic() - started, 1),
        "tokens": int(sum(len(r) for r in ids)),
    }
    (data_dir / "build.json").write_text(json.dumps(build, indent=1) + "\n")
    _log(
        json.dumps(
            {
                k: build[k]
                for k in ("data_npz_mib", "data_dir_mib", "stages", "seconds", "vocab_kept")
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
