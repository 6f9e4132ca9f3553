"""PNG plots of a results dict (matplotlib with the Agg backend, imported on use)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_plots(results: Mapping[str, Any], directory: Path) -> list[Path]:
    """Per-language F1 bars, threshold sweep, latency distribution, reliability diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    dets = [d for d in results["detectors"] if d.get("overall")]
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = directory / name
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)

    langs = sorted({k for d in dets for k in d.get("by_language", {})})
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(1, len(dets))
    for i, d in enumerate(dets):
        vals = [d["by_language"].get(lang, {}).get("f1", 0.0) for lang in langs]
        ax.bar([x + i * width for x in range(len(langs))], vals, width, label=d["detector"])
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(langs))], langs)
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, ncol=3)
    ax.set_title("F1 by language")
    save(fig, "f1_by_language.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for d in dets:
        sweep = d["sweep"]
        ax.plot([s["threshold"] for s in sweep], [s["f1"] for s in sweep], label=d["detector"])
    ax.set_xlabel("threshold on score")
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title("Threshold sweep")
    save(fig, "threshold_sweep.png")

    timed = [d for d in dets if d["kind"] != "baseline" and d.get("latencies_ms")]
    if timed:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.boxplot([[max(x, 1e-3) for x in d["latencies_ms"]] for d in timed])
        ax.set_xticks(range(1, len(timed) + 1), [d["detector"] for d in timed], rotation=30)
        ax.set_yscale("log")
        ax.set_ylabel("ms per snippet")
        ax.set_title("Latency per snippet")
        save(fig, "latency.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    for d in dets:
        bins = [b for b in d["calibration"]["bins"] if b["count"]]
        ax.plot(
            [b["mean_score"] for b in bins],
            [b["positive_rate"] for b in bins],
            "o-",
            label=f"{d['detector']} (ECE {d['calibration']['ece']:.2f})",
        )
    ax.set_xlabel("mean score in bin")
    ax.set_ylabel("fraction vulnerable")
    ax.legend(fontsize=7)
    ax.set_title("Reliability diagram")
    save(fig, "reliability.png")
    return written
