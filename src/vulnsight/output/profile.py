"""`--profile`: the scan's per-stage timings and model counters as a small table."""

from __future__ import annotations

from collections.abc import Mapping

#: (stats key, label) in pipeline order; absent keys are left out.
STAGES: tuple[tuple[str, str], ...] = (
    ("time_discovery_s", "discovery"),
    ("time_parsing_s", "parsing"),
    ("time_callgraph_s", "call graph"),
    ("time_semgrep_s", "semgrep (rules, in parallel with the model)"),
    ("time_model_stage_s", "model stage (total)"),
    ("time_gate_s", "  gate"),
    ("time_gate_wait_rules_s", "  waiting for rule hits"),
    ("time_context_s", "  context building"),
    ("time_model_s", "  model calls"),
    ("time_merge_s", "merge"),
    ("time_output_s", "output"),
    ("seconds", "scan total (before output)"),
)
COUNTERS: tuple[tuple[str, str], ...] = (
    ("functions", "functions"),
    ("llm_functions", "functions in model languages"),
    ("model_functions_judged", "judged by the model"),
    ("cache_hits", "answered from the cache"),
    ("model_functions_skipped", "skipped by the gate"),
    ("gate_skipped_trivial", "  of which trivial"),
    ("model_tokens", "context tokens evaluated"),
    ("peak_rss_mb", "peak RSS (MB)"),
)


def render_profile(stats: Mapping[str, object]) -> str:
    """A plain-text table of the timings and counters present in `stats`."""
    rows: list[tuple[str, str]] = []
    for key, label in STAGES:
        value = stats.get(key)
        if isinstance(value, int | float):
            rows.append((label, f"{float(value):.3f} s"))
    rows += [(label, str(stats[key])) for key, label in COUNTERS if key in stats]
    width = max((len(label) for label, _ in rows), default=0)
    return "".join(f"{label:<{width}}  {value:>12}\n" for label, value in rows)
