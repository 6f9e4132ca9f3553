"""Prompt tokens per configuration of the token levers on a tree (`tree_tokens.py --table`).

Every configuration is counted exactly with the shipped model's tokenizer, as a scan
would build the prompts (`LLMDetector`: the gate with data-flow facts, `build_context`,
`render`); no prompt is evaluated, so the figures do not depend on the machine's load.
Levers: the gate mode (`safe`, `lean`, `sinks`), callers (`all`, `facts`, `none`:
`context.callers_for`; `alone`: no callers and no callee signatures, the view the shipped
model was trained on), in-scan duplicates judged once (`detectors/dedup.py`) and
windows over functions longer than N tokens (`build_context(window_over=N)` with the
gate's risky lines as focus). Seconds are *projected* at `rate` prompt tokens/s.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulnsight.context import build_context, callers_for
from vulnsight.dataflow import analyse
from vulnsight.detectors.dedup import find_duplicates
from vulnsight.detectors.gate import Gate
from vulnsight.discover import discover
from vulnsight.llm.models import load
from vulnsight.llm.prompt import render
from vulnsight.parse.callgraph import CallGraph
from vulnsight.pipeline import parse_files


@dataclass(frozen=True)
class Config:
    """One row: gate mode, caller policy, duplicates judged once, windows over N tokens."""

    gate: str
    callers: str = "all"
    dedup: bool = False
    window_over: int = 0

    @property
    def label(self) -> str:
        who = "function alone" if self.callers == "alone" else f"callers {self.callers}"
        parts = [f"`{self.gate}`", who]
        if self.dedup:
            parts.append("dedup")
        if self.window_over:
            parts.append(f"windows > {self.window_over}")
        return ", ".join(parts)


CONFIGS = (
    Config("off"),
    Config("safe"),  # today's default
    Config("safe", "facts"),
    Config("safe", "none"),
    Config("safe", "alone"),
    Config("safe", "facts", dedup=True),
    Config("safe", "facts", dedup=True, window_over=1024),
    Config("safe", "facts", dedup=True, window_over=512),
    Config("safe", "facts", dedup=True, window_over=256),
    Config("lean"),
    Config("lean", "facts", dedup=True),
    Config("lean", "facts", dedup=True, window_over=512),
    Config("lean", "facts", dedup=True, window_over=256),
    Config("lean", "alone", dedup=True),
    Config("lean", "alone", dedup=True, window_over=256),
    Config("sinks"),
    Config("sinks", "facts", dedup=True),
    Config("sinks", "facts", dedup=True, window_over=256),
    Config("sinks", "alone", dedup=True, window_over=256),
)


def count(tree: Path, configs: tuple[Config, ...] = CONFIGS) -> dict[str, Any]:
    """Rows of prompt-token figures for `configs` on `tree`."""
    backend = load("default")
    try:
        found = discover([tree])
        lines = sum(f.text.count("\n") + (not f.text.endswith("\n")) for f in found.files)
        functions, _ = parse_files(found.files)
        graph = CallGraph.build(functions)
        on = {k for k, v in backend.language_thresholds.items() if math.isfinite(v)}
        facts = analyse(found.files, functions, graph).facts
        asked = [fn for fn in functions if fn.language in on]
        salts = {
            fn.qualified_id: facts[fn.qualified_id].digest
            for fn in asked
            if fn.qualified_id in facts and facts[fn.qualified_id].digest
        }
        gates = {mode: Gate(graph, mode=mode, facts=facts) for mode in ("safe", "lean", "sinks")}
        focus = {fn.qualified_id: gates["safe"].risky_lines(fn) for fn in asked}
        memo: dict[tuple[str, str, int], int] = {}

        def tokens(fn: Any, callers: str, window_over: int) -> int:
            key = (fn.qualified_id, callers, window_over)
            if key not in memo:
                ctx = build_context(
                    fn,
                    graph,
                    count_tokens=backend.count_tokens,
                    max_callers=callers_for(
                        "none" if callers == "alone" else callers, 3, facts.get(fn.qualified_id)
                    ),
                    callees=callers != "alone",
                    facts=facts.get(fn.qualified_id),
                    focus=focus[fn.qualified_id],
                    window_over=window_over,
                )
                memo[key] = backend.count_tokens(render(ctx.text, fn.language).body)
            return memo[key]

        rows = []
        for config in configs:
            gate = gates.get(config.gate)
            judged = [fn for fn in asked if gate is None or gate.decide(fn).judge]
            dups = find_duplicates(judged, salts) if config.dedup else None
            sent = list(dups.unique) if dups is not None else judged
            counts = sorted(tokens(fn, config.callers, config.window_over) for fn in sent)
            by_language: dict[str, int] = {}
            for fn in sent:
                n = tokens(fn, config.callers, config.window_over)
                by_language[fn.language] = by_language.get(fn.language, 0) + n
            rows.append(
                {
                    "config": config.__dict__,
                    "label": config.label,
                    "functions_judged": len(judged),
                    "model_calls": len(sent),
                    "duplicates_reused": dups.count if dups is not None else 0,
                    "prompt_tokens": sum(counts),
                    "median": statistics.median(counts) if counts else 0,
                    "p90": counts[int(0.9 * len(counts))] if counts else 0,
                    "max": counts[-1] if counts else 0,
                    "by_language": dict(sorted(by_language.items())),
                    "windowed_functions": sum(
                        1
                        for fn in sent
                        if config.window_over
                        and tokens(fn, config.callers, config.window_over)
                        != tokens(fn, config.callers, 0)
                    ),
                }
            )
        return {
            "tree": str(tree),
            "lines": lines,
            "functions": len(functions),
            "model_language_functions": len(asked),
            "facts_touch": sum(1 for f in facts.values() if not f.empty),
            "tainted_parameters_in_model_languages": sum(
                1 for fn in asked if fn.qualified_id in facts and facts[fn.qualified_id].tainted
            ),
            "rows": rows,
        }
    finally:
        backend.close()


def table(tree: Path, rate: float, out: Path | None) -> None:
    """Print the Markdown table for `tree` (and write its JSON to `out`)."""
    result = count(tree)
    lines = result["lines"]
    base = next(r for r in result["rows"] if r["config"] == Config("safe").__dict__)
    print(
        f"tree {tree}: {lines} lines, {result['functions']} functions, "
        f"{result['model_language_functions']} in model languages; "
        f"tainted parameters in {result['tainted_parameters_in_model_languages']}"
    )
    print(
        "\n| configuration | judged | model calls | prompt tokens | median | p90 | max "
        "| vs `safe` today | projected model s | projected s per 10k lines |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in result["rows"]:
        seconds = row["prompt_tokens"] / rate
        row["projected_model_s"] = round(seconds, 1)
        row["projected_s_per_10k_lines"] = round(seconds * 10_000 / lines, 1)
        change = row["prompt_tokens"] / base["prompt_tokens"] - 1
        print(
            f"| {row['label']} | {row['functions_judged']} | {row['model_calls']} "
            f"| {row['prompt_tokens']:,} | {row['median']:g} | {row['p90']:,} | {row['max']:,} "
            f"| {change:+.0%} | {seconds:.0f} | {row['projected_s_per_10k_lines']:.0f} |"
        )
    print(
        "\nby language: "
        + "; ".join(
            f"{r['label']}: " + ", ".join(f"{k} {v:,}" for k, v in r["by_language"].items())
            for r in result["rows"]
        )
    )
    if out is not None:
        result["rate_tokens_per_s"] = rate
        out.write_text(json.dumps(result, indent=2) + "\n")
