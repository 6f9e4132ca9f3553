"""Check that a packed base (`vulnsight.train.packed_base`: vocabulary cut to the tokens
used, quantised blocks kept) gives the same decision logits as the full embedded GGUF
loaded by transformers (what `vulnsight train --base default` trains on).

    python benchmarks/packed_base_check.py --out benchmarks/results/packed_base_check.json

A few prompts of `examples/mixed` are rendered as training renders them; both models
score them in fp32 on the CPU; the result holds the logit differences (true - false)
of both and the largest absolute gap. With `--pack DIR` (what
`scripts/gpu_retrain_data.py` built) the prompts are that pack's first test examples,
read back through its packed vocabulary, and the packed base is the pack's own
(reassembled from its stage parts): the whole path a GPU run takes, checked here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/packed_base_check.json")
    p.add_argument("--pack", type=Path, help="check a built GPU retraining pack instead")
    args = p.parse_args(argv)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from vulnsight.bench.records import Record
    from vulnsight.llm.hf import load_tokenizer
    from vulnsight.llm.models import embedded_model_path
    from vulnsight.train.data import to_example
    from vulnsight.train.packed_base import kept_vocab, load_packed_model, pack_gguf_base

    gguf = embedded_model_path()
    if args.pack is not None:
        return check_pack(args, gguf)
    tok = load_tokenizer(AutoTokenizer, gguf.parent, gguf.name)
    files = sorted((ROOT / "examples/mixed").rglob("*.py"))[: args.prompts]
    rows = []
    for i, f in enumerate(files):
        rec = Record(str(i), "python", f.read_text()[:1500], 0, "ex", "ex")
        ex = to_example(rec, lambda t: len(tok.encode(t, add_special_tokens=False)), 400)
        ids = [tok.bos_token_id]
        ids += tok.encode(ex.prompt.prefix + ex.prompt.body, add_special_tokens=False)
        rows.append(ids)
    t_id = tok.encode(" true", add_special_tokens=False)[0]
    f_id = tok.encode(" false", add_special_tokens=False)[0]
    keep = kept_vocab((t for r in rows for t in r), (0, 1, 2, 3, t_id, f_id))
    remap = {t: i for i, t in enumerate(keep)}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        meta = pack_gguf_base(gguf, keep, Path(tmp) / "base.npz")
        size = (Path(tmp) / "base.npz").stat().st_size
        pack_s = time.monotonic() - started
        started = time.monotonic()
        packed, _ = load_packed_model(Path(tmp) / "base.npz")
        load_s = time.monotonic() - started
    full = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    out = []
    with torch.no_grad():
        for ids in rows:
            a = full(input_ids=torch.tensor([ids]), logits_to_keep=1).logits[0, -1]
            b = packed(input_ids=torch.tensor([[remap[t] for t in ids]]), logits_to_keep=1).logits[
                0, -1
            ]
            out.append(
                {
                    "tokens": len(ids),
                    "full_true_minus_false": round(float(a[t_id] - a[f_id]), 5),
                    "packed_true_minus_false": round(float(b[remap[t_id]] - b[remap[f_id]]), 5),
                }
            )
    gap = max(abs(o["full_true_minus_false"] - o["packed_true_minus_false"]) for o in out)
    result = {
        "check": "packed_base_check",
        "kept_tokens": len(keep),
        "packed_mib": round(size / 2**20, 2),
        "pack_seconds": round(pack_s, 1),
        "load_seconds": round(load_s, 1),
        "tensors": len(meta["tensors"]),
        "prompts": out,
        "max_abs_gap": round(gap, 6),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def check_pack(args: argparse.Namespace, gguf: Path) -> int:
    """The pack's own packed base and pre-tokenised prompts against the full GGUF."""
    import torch
    from transformers import AutoModelForCausalLM

    from vulnsight.train.fold_run import load_pack_data, p_true
    from vulnsight.train.packed_base import join_parts, load_packed_model, read_meta

    data = load_pack_data(args.pack / "data" / "data.npz")
    picked = [i for i, e in enumerate(data.examples) if e["test"]][::97][: args.prompts]
    with tempfile.TemporaryDirectory() as tmp:
        base = join_parts(
            args.pack / "data" / "base.npz.parts.json",
            sorted(args.pack.glob("stage*")),
            Path(tmp) / "base.npz",
        )
        keep = read_meta(base)["keep"]
        started = time.monotonic()
        packed, _ = load_packed_model(base)
        load_s = time.monotonic() - started
    full = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    tf = (int(data.header["true_id"]), int(data.header["false_id"]))
    prompts = [data.ids[i][: data.prompt_len[i]] for i in picked]
    original = [[keep[t] for t in p] for p in prompts]
    a = p_true(full, original, "cpu", (keep[tf[0]], keep[tf[1]]), 1, 0)
    b = p_true(packed, prompts, "cpu", tf, 1, 0)
    rows = [
        {
            "id": data.examples[i]["id"],
            "tokens": len(p),
            "full_p": round(x, 6),
            "packed_p": round(y, 6),
        }
        for i, p, x, y in zip(picked, prompts, a, b, strict=True)
    ]
    result = {
        "check": "packed_base_check --pack",
        "kept_tokens": len(keep),
        "load_seconds": round(load_s, 1),
        "prompts": rows,
        "max_abs_gap_p": round(max(abs(x - y) for x, y in zip(a, b, strict=True)), 8),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
