"""Measure the static rule pack on the labelled corpora in /work/shared/datasets.

Each record's code is written to its own file; Semgrep runs once per dataset over all of
them. A record counts as flagged when any finding falls inside it; a line hit is a finding
within +-2 lines of a labelled vulnerable line. Reserved evaluation projects are skipped.

    python benchmarks/rules_coverage.py [--datasets DIR] [--out benchmarks/RULES_COVERAGE.md]
        [--compare PREVIOUS.md]

With ``--compare`` the table of an earlier run (a previous RULES_COVERAGE.md) is put
beside this one: recall and FPR before and after, per source and language.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from vulnsight.bench.records import is_reserved
from vulnsight.languages import CANONICAL_EXTENSION
from vulnsight.rules.engine import run_semgrep

EXT = {k: v for k, v in CANONICAL_EXTENSION.items() if k != "typescript"}
MAX_RECORDS = 3000  # per dataset; a seeded sample keeps one run under ~5 minutes


def load(path: Path) -> list[dict[str, Any]]:
    """The usable records of one dataset, sampled with a fixed seed when large."""
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    records = [
        r for r in records if r["language"] in EXT and not is_reserved(r.get("project") or "")
    ]
    if len(records) > MAX_RECORDS:
        records = random.Random(0).sample(records, MAX_RECORDS)
    return records


def measure(path: Path) -> tuple[dict[str, dict[str, float]], float, int]:
    """Per-language counts for one dataset, its Semgrep wall time and record count."""
    records = load(path)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = []
        for i, record in enumerate(records):
            file = root / f"r{i:05d}{EXT[record['language']]}"
            file.write_text(record["code"], encoding="utf-8")
            files.append(file)
        started = time.monotonic()
        findings, _errors = run_semgrep(files, root, jobs=2)
        elapsed = time.monotonic() - started
    lines_by_file: dict[str, list[int]] = defaultdict(list)
    for finding in findings:
        lines_by_file[finding.file].append(finding.line_number)
    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for i, record in enumerate(records):
        hits = lines_by_file.get(f"r{i:05d}{EXT[record['language']]}", [])
        s = stats[record["language"]]
        flagged = bool(hits)
        if record["label"] == 1:
            s["tp" if flagged else "fn"] += 1
            if record["lines"]:
                s["lined"] += 1
                if any(abs(h - line) <= 2 for h in hits for line in record["lines"]):
                    s["line_hits"] += 1
        else:
            s["fp" if flagged else "tn"] += 1
    return stats, elapsed, len(records)


def ratio(a: float, b: float) -> str:
    """a / b as a 2-decimal string, '-' when b is 0."""
    return f"{a / b:.2f}" if b else "-"


def table_rows(text: str) -> dict[tuple[str, str], list[str]]:
    """The rows of a coverage table by (source, language): their cells as strings."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[2].isdigit():
            rows[(cells[0], cells[1])] = cells
    return rows


def compare(
    before: dict[tuple[str, str], list[str]], after: dict[tuple[str, str], list[str]]
) -> list[str]:
    """Markdown lines: recall, FPR and line hits before and after, where both exist."""
    if not before:
        return []
    out = [
        "## Before and after",
        "",
        "| source | lang | recall before | recall after | FPR before | FPR after "
        "| line hits before | line hits after |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(after):
        if key in before:
            b, a = before[key], after[key]
            out.append(
                f"| {key[0]} | {key[1]} | {b[7]} | {a[7]} | {b[8]} | {a[8]} | {b[9]} | {a[9]} |"
            )
    return [*out, ""]


def main(argv: list[str] | None = None) -> int:
    """Run every dataset and write the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=Path, default=Path("/work/shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/RULES_COVERAGE.md"))
    parser.add_argument("--compare", type=Path, default=None, help="an earlier RULES_COVERAGE.md")
    args = parser.parse_args(argv)
    previous = table_rows(args.compare.read_text(encoding="utf-8")) if args.compare else {}
    rows = []
    total_time = 0.0
    for path in sorted(args.datasets.glob("*.jsonl")):
        stats, elapsed, count = measure(path)
        total_time += elapsed
        print(f"{path.stem}: {count} records, semgrep {elapsed:.1f} s", file=sys.stderr)
        for lang in sorted(stats):
            s = stats[lang]
            tp, fp, fn, tn = s["tp"], s["fp"], s["fn"], s["tn"]
            rows.append(
                f"| {path.stem} | {lang} | {int(tp)} | {int(fp)} | {int(fn)} | {int(tn)} "
                f"| {ratio(tp, tp + fp)} | {ratio(tp, tp + fn)} | {ratio(fp, fp + tn)} "
                f"| {int(s['line_hits'])}/{int(s['lined'])} |"
            )
    text = "\n".join(
        [
            "# Static rule pack coverage",
            "",
            "Record level: a record is flagged when any rule fires in it. Line hits: vulnerable",
            "records with line labels where a finding is within +-2 lines of a labelled line.",
            "`semgrep_rules_tests` is Semgrep's own test corpus: reported, never tuned on.",
            "`cyberseceval_icd` labels are other static detectors' hits (no clean records).",
            "Reserved evaluation projects are skipped.",
            "",
            "Reproduce: `python benchmarks/rules_coverage.py` (from the repository root, with",
            f"the package installed). Total Semgrep time: {total_time:.0f} s.",
            "",
            "| source | lang | TP | FP | FN | TN | precision | recall | FPR | line hits |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            *compare(previous, table_rows("\n".join(rows))),
        ]
    )
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
