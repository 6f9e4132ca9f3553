"""The organisation summary of a fleet run (pure): a findings table with one row per
finding of every repository, a repositories table, and a Markdown overview (findings
per repository, per CWE and per language; the newest and the most confident)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from vulnsight.languages import language_of

#: Rows shown in the overview's "newest" and "most confident" lists.
TOP = 10


def finding_rows(meta: Mapping[str, Any], report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One table row per finding of one repository's JSON report."""
    times = meta.get("file_times") or {}
    rows = []
    for f in report.get("findings", []):
        rows.append(
            {
                "repository": meta.get("name", ""),
                "slug": meta.get("slug", ""),
                "file": f["file"],
                "line": f["line_number"],
                "function": f.get("function"),
                "cwe": f["cwe"],
                "language": language_of(f["file"]) or "other",
                "confidence": f["confidence"],
                "severity": f["severity"],
                "detectors": "+".join(f.get("detectors") or []),
                "rule_id": f.get("rule_id"),
                "suppressed": bool(f.get("suppressed")),
                "committed": times.get(f["file"]),
            }
        )
    return rows


def repository_row(meta: Mapping[str, Any]) -> dict[str, Any]:
    """One table row per repository."""
    keys = ("name", "slug", "source", "kind", "functions", "findings", "suppressed", "errors")
    row = {k: meta.get(k) for k in keys}
    row["files_unscanned"] = meta.get("files_unscanned", 0)
    row["seconds"] = meta.get("seconds")
    return row


def _when(ts: object) -> str:
    if not isinstance(ts, int):
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


def _cell(text: object) -> str:
    """A table cell: repository-controlled text cannot break the table or add markup."""
    raw = "" if text is None else str(text)
    return "".join(c if c.isprintable() else " " for c in raw).replace("|", "\\|")[:120]


def overview(
    repos: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    run: Mapping[str, Any],
) -> str:
    """The Markdown overview of a whole run."""
    shown = [r for r in rows if not r["suppressed"]]
    lines = [
        "# vulnsight fleet: organisation summary",
        "",
        f"{len(repos)} repositories, {sum(int(m.get('functions') or 0) for m in repos):,} "
        f"functions, {len(shown)} findings ({len(rows) - len(shown)} suppressed).",
        "",
    ]
    lines += [f"- {_cell(k)}: {_cell(v)}" for k, v in run.items()]
    lines += [
        "",
        "## Findings per repository",
        "",
        "| repository | functions | findings | suppressed | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in sorted(repos, key=lambda m: (-int(m.get("findings") or 0), str(m.get("name")))):
        lines.append(
            f"| {_cell(m.get('name'))} | {m.get('functions', 0)} | {m.get('findings', 0)} "
            f"| {m.get('suppressed', 0)} | {m.get('errors', 0)} |"
        )
    for title, key in (("CWE", "cwe"), ("language", "language")):
        counts = Counter(str(r[key]) for r in shown)
        lines += [
            "",
            f"## Findings per {title}",
            "",
            f"| {title} | findings | repositories |",
            "|---|---:|---:|",
        ]
        for value, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            where = len({r["slug"] for r in shown if str(r[key]) == value})
            lines.append(f"| {_cell(value)} | {n} | {where} |")
    newest = sorted(
        (r for r in shown if isinstance(r.get("committed"), int)),
        key=lambda r: (-int(r["committed"]), r["slug"], r["file"], r["line"]),
    )[:TOP]
    confident = sorted(
        shown, key=lambda r: (-float(r["confidence"]), r["slug"], r["file"], r["line"])
    )[:TOP]
    for title, picked in (
        ("Newest (last commit of the file)", newest),
        ("Most confident", confident),
    ):
        lines += [
            "",
            f"## {title}",
            "",
            "| repository | file:line | CWE | confidence | detectors | committed |",
            "|---|---|---|---:|---|---|",
        ]
        for r in picked:
            lines.append(
                f"| {_cell(r['repository'])} | {_cell(r['file'])}:{r['line']} | "
                f"{_cell(r['cwe'])} | {float(r['confidence']):.2f} | {_cell(r['detectors'])} "
                f"| {_when(r.get('committed'))} |"
            )
    return "\n".join(lines) + "\n"
