"""Report -> a readable table for terminals."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from vulnsight.types import Report


def render(report: Report, width: int = 120, color: bool = False) -> str:
    """A table of findings, then errors and skipped files, then a one-line summary."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, no_color=not color)
    if report.findings:
        table = Table(title=f"{len(report.findings)} finding(s)", show_lines=False)
        for col in ("location", "function", "CWE", "type", "conf", "by", "message"):
            table.add_column(col, overflow="fold")
        for f in report.findings:
            table.add_row(
                f"{f.file}:{f.line_number}",
                f.function or "",
                f.cwe,
                f.type,
                f"{f.confidence:.2f}",
                "+".join(f.detectors or (f.detector,)),
                f.message,
            )
        console.print(table)
    else:
        console.print("No findings.")
    for e in report.errors:
        console.print(f"error: {e.file}: {e.reason}", markup=False, highlight=False)
    for s in report.skipped:
        console.print(f"skipped: {s.file}: {s.reason}", markup=False, highlight=False)
    st = report.stats
    console.print(
        f"{st.get('files_scanned', 0)} files, {st.get('functions', 0)} functions, "
        f"{len(report.findings)} findings in {st.get('seconds', 0)} s",
        markup=False,
        highlight=False,
    )
    return buf.getvalue()
