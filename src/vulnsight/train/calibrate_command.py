"""`vulnsight calibrate`: choose a model directory's per-language thresholds.

Scores labelled records and presumed-clean functions with the model exactly as
`vulnsight eval` does (the scanner's own pipeline, one record per file), then writes
the thresholds `calibrate.choose_thresholds` picks into ``vulnsight-model.json``, where
`vulnsight scan` and `vulnsight eval` read them.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from vulnsight.errors import ConfigError, VulnsightError
from vulnsight.train.calibrate import LanguageThreshold, Scored, choose_thresholds

MANIFEST = "vulnsight-model.json"


def _fingerprint(model_dir: Path, meta: dict[str, Any]) -> str:
    """What the cached scores depend on: the prompt version and the weights' files."""
    from vulnsight.llm.prompt import PROMPT_VERSION

    parts = [PROMPT_VERSION, str(meta.get("base_gguf"))]
    for key in ("lora_gguf", "head"):
        if meta.get(key):
            st = (model_dir / meta[key]).stat()
            parts.append(f"{meta[key]}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def score_records(
    model_dir: Path, records: list[Any], work: Path, show_progress: bool, rules: list[Any]
) -> tuple[dict[str, float], dict[str, bool]]:
    """P(vulnerable) per record id from the model alone, and whether the rule pack flags
    each of `rules` (resumable in `work`)."""
    from vulnsight.bench.adapters.interface import AdapterOptions
    from vulnsight.bench.adapters.vulnsight_detectors import VulnsightAdapter
    from vulnsight.bench.runner import Runner
    from vulnsight.cli import _progress

    meta = json.loads((model_dir / MANIFEST).read_text("utf-8"))
    stamp = work / "fingerprint"
    key = _fingerprint(model_dir, meta)
    if stamp.is_file() and stamp.read_text().strip() != key:
        for name in ("predictions.jsonl", "usage.jsonl"):
            (work / name).unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key + "\n")
    # An infinite threshold: nothing is flagged, so no CWE or line is decoded.
    options = AdapterOptions(model=str(model_dir), threshold=math.inf)
    runner = Runner(work)
    with _progress(show_progress) as tick:
        runner.progress = tick
        outcome = runner.run([VulnsightAdapter("llm", options, name="llm")], records)
        ruled = runner.run([VulnsightAdapter("rules", name="rules")], rules) if rules else None
    for name, got in (("llm", outcome), ("rules", ruled)):
        if got is not None and name in got.unavailable:
            hint = " (or pass --no-rules)" if name == "rules" else ""
            raise ConfigError(f"cannot run the {name}{hint}: {got.unavailable[name]}")
    preds = outcome.predictions.get(("llm", "none"), {})
    failed = [p.record_id for p in preds.values() if p.error]
    if failed:
        click.echo(f"vulnsight: {len(failed)} records could not be scored", err=True)
    hits = ruled.predictions.get(("rules", "none"), {}) if ruled is not None else {}
    return (
        {rid: p.score for rid, p in preds.items() if not p.error},
        {rid: p.predicted for rid, p in hits.items() if not p.error},
    )


def _table(rows: list[LanguageThreshold]) -> str:
    lines = [
        "| language | threshold | vulnerable | negatives | clean | recall | FPR "
        "| clean flagged | J | why |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        t = "off" if r.threshold is None else f"{r.threshold:.3f}"
        lines.append(
            f"| {r.language} | {t} | {r.positives} | {r.negatives} | {r.clean} | "
            f"{r.recall:.2f} | {r.fpr:.2f} | {r.clean_flag_rate:.2f} | {r.youden_j:.2f} "
            f"| {r.how} |"
        )
    return "\n".join(lines)


@click.command("calibrate")
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A model directory written by `vulnsight train`.",
)
@click.option(
    "--data",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="Labelled JSONL (the shared record schema) the model never trained on.",
)
@click.option(
    "--clean",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="Presumed-clean functions (JSONL records, label 0), e.g. of your own code.",
)
@click.option(
    "--max-flag-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.05,
    show_default=True,
    help="Most of the clean functions of a language the model may flag on its own.",
)
@click.option(
    "--rules/--no-rules",
    default=True,
    show_default=True,
    help="Keep a language's threshold only where rules + model beat the rules alone on "
    "--data (needs Semgrep).",
)
@click.option("--dry-run", is_flag=True, help="Print the thresholds; do not write them.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a TTY).")
def calibrate_command(
    model_dir: Path,
    data: tuple[Path, ...],
    clean: tuple[Path, ...],
    max_flag_rate: float,
    rules: bool,
    dry_run: bool,
    progress: bool | None,
) -> None:
    """Choose per-language flagging thresholds for a trained model directory.

    Per language: the best Youden's J on --data among thresholds that flag at most
    --max-flag-rate of the --clean functions; a language where none helps, or (with
    --rules) where rules + model do not beat the rules alone, is turned off (the model
    is then not asked about that language). Written to vulnsight-model.json.
    """
    from vulnsight.bench.records import filter_reserved, load_records

    try:
        if not (model_dir / MANIFEST).is_file():
            raise ConfigError(f"{model_dir} has no {MANIFEST}: not a `vulnsight train` output")
        labelled, _ = filter_reserved(load_records(list(data)))
        cleans, _ = filter_reserved(load_records(list(clean))) if clean else ([], 0)
        if any(r.label for r in cleans):
            raise ConfigError("--clean records must all have label 0")
        show = sys.stderr.isatty() if progress is None else progress
        work = model_dir / "calibration"
        scores, hits = score_records(
            model_dir, labelled + cleans, work, show, labelled if rules else []
        )
    except VulnsightError as exc:
        click.echo(f"vulnsight: error: {exc}", err=True)
        sys.exit(2)
    clean_ids = {r.id for r in cleans}
    as_scored = [
        (r.id in clean_ids, Scored(r.language, r.label, scores[r.id], hits.get(r.id)))
        for r in labelled + cleans
        if r.id in scores
    ]
    pooled, rows = choose_thresholds(
        [s for is_clean, s in as_scored if not is_clean],
        [s for is_clean, s in as_scored if is_clean],
        max_flag_rate,
    )
    click.echo(_table(rows))
    click.echo(f"pooled threshold {pooled:.3f} (languages not listed)")
    if dry_run:
        return
    path = model_dir / MANIFEST
    meta = json.loads(path.read_text("utf-8"))
    meta["threshold"] = round(pooled, 4)
    meta["thresholds"] = {r.language: r.to_json()["threshold"] for r in rows}
    meta["calibration"] = {
        "max_flag_rate": max_flag_rate,
        "gated_by_rules": rules,
        "data": [str(p) for p in data],
        "clean": [str(p) for p in clean],
        "languages": [r.to_json() for r in rows],
    }
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    card = model_dir / "MODEL_CARD.md"
    if card.is_file():
        section = (
            f"{CARD_HEADING}\n\nChosen by `vulnsight calibrate` on {', '.join(map(str, data))}"
            + (f" with clean code from {', '.join(map(str, clean))}" if clean else "")
            + f"; at most {max_flag_rate:.0%} of a language's clean functions flagged by the "
            f"model alone; `off`: the model reports nothing on its own there.\n\n"
            f"{_table(rows)}\n\nPooled threshold (other languages): {pooled:.3f}\n"
        )
        card.write_text(with_section(card.read_text("utf-8"), section), encoding="utf-8")
    click.echo(f"thresholds written to {path}")


CARD_HEADING = "## Per-language thresholds"


def with_section(text: str, section: str) -> str:
    """`text` with its CARD_HEADING section replaced by `section` (appended if absent)."""
    start = text.find(CARD_HEADING)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(CARD_HEADING))
    rest = text[end + 1 :] if end >= 0 else ""
    return text[:start] + section + ("\n" + rest if rest else "")
