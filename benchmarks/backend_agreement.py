"""Agreement of the llama.cpp and transformers backends on P(vulnerable) for the
embedded model: the same prompts (functions of examples/mixed, and optionally a seeded
sample of labelled records), read once by llama.cpp on the Q4_K_M GGUF and once by
transformers on the same GGUF dequantised (`from_pretrained(dir, gguf_file=...)`).

    python benchmarks/backend_agreement.py [--records FILE --n 20] [--out FILE]

Writes max / median / p90 absolute differences of P(vulnerable), the agreement of the
decision at 0.5, and every pair, with the config, to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def example_prompts(count_tokens, limit: int) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    """(function id, prompt) for the functions of examples/mixed, as a scan builds them."""
    from vulnsight.context import build_context
    from vulnsight.discover import discover
    from vulnsight.llm.prompt import render
    from vulnsight.parse.callgraph import CallGraph
    from vulnsight.pipeline import parse_files

    found = discover([ROOT / "examples" / "mixed"], max_bytes=1 << 20)
    functions, _ = parse_files(found.files)
    graph = CallGraph.build(functions)
    out = []
    for fn in functions[:limit]:
        ctx = build_context(fn, graph, budget_tokens=8192, count_tokens=count_tokens)
        out.append((f"{fn.file}:{fn.name}", render(ctx.text, fn.language)))
    return out


def record_prompts(path: Path, n: int, count_tokens) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    from vulnsight.bench.records import load_records
    from vulnsight.train.data import to_example

    recs = load_records([path])
    random.Random(0).shuffle(recs)
    return [(r.id, to_example(r, count_tokens, 2048).prompt) for r in recs[:n]]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--limit", type=int, default=30, help="functions of examples/mixed")
    p.add_argument("--records", type=Path, help="also a seeded sample of these records")
    p.add_argument("--n", type=int, default=0)
    p.add_argument("--spec", default="base", help="'base' (untuned) or a trained dir")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/backend_agreement.json")
    args = p.parse_args()

    from vulnsight.llm.models import load

    started = time.perf_counter()
    llama = load(f"llamacpp:{args.spec}")
    prompts = example_prompts(llama.count_tokens, args.limit)
    if args.records and args.n:
        prompts += record_prompts(args.records, args.n, llama.count_tokens)
    t0 = time.perf_counter()
    p_llama = [d.p_vulnerable for d in llama.decide([pr for _, pr in prompts])]  # type: ignore[misc]
    llama_s = time.perf_counter() - t0
    llama.close()
    hf = load(f"transformers:{args.spec}")
    t0 = time.perf_counter()
    p_hf = [d.p_vulnerable for d in hf.decide([pr for _, pr in prompts])]  # type: ignore[misc]
    hf_s = time.perf_counter() - t0
    pairs = list(zip(p_llama, p_hf, strict=True))
    diffs = sorted(abs(a - b) for a, b in pairs)
    result = {
        "benchmark": "backend_agreement",
        "spec": args.spec,
        "functions": len(prompts),
        "llamacpp": "Q4_K_M GGUF, llama.cpp, CPU",
        "transformers": hf.model_info,  # type: ignore[attr-defined]
        "abs_diff": {
            "max": round(diffs[-1], 4),
            "median": round(statistics.median(diffs), 4),
            "p90": round(diffs[int(0.9 * (len(diffs) - 1))], 4),
        },
        "same_decision_at_0.5": sum((a >= 0.5) == (b >= 0.5) for a, b in pairs),
        "ms_per_function": {
            "llamacpp": round(1000 * llama_s / len(prompts), 1),
            "transformers": round(1000 * hf_s / len(prompts), 1),
        },
        "note": "shared 2-core machine; timings are noisy",
        "pairs": [
            {"id": i, "llamacpp": round(a, 4), "transformers": round(b, 4)}
            for (i, _), a, b in zip(prompts, p_llama, p_hf, strict=True)
        ],
        "seconds": round(time.perf_counter() - started, 1),
        "config": {k: str(v) for k, v in vars(args).items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "pairs"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
