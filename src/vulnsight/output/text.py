"""Report -> readable text for terminals: findings grouped by file, then problems."""

from __future__ import annotations

from itertools import groupby

from vulnsight.textsafe import safe_text as _s
from vulnsight.types import Report


def render(report: Report) -> str:
    """Findings grouped by file (line, CWE, confidence, detectors, function, message),
    then errors and skipped files, then a one-line summary.

    File names, messages and snippets come from the scanned repository: control and
    bidi characters in them are escaped, so they cannot forge or hide lines."""
    out: list[str] = []
    for file, group in groupby(report.findings, key=lambda f: f.file):
        out.append(_s(file))
        for f in group:
            by = "+".join(f.detectors or (f.detector,))
            where = f" in {_s(f.function)}" if f.function else ""
            tag = " [suppressed]" if f.suppressed else ""
            out.append(
                f"  {f.line_number:>5}  {f.cwe:<9} {f.type}  conf {f.confidence:.2f}  "
                f"({by}){where}{tag}"
            )
            out.append(f"         {_s(f.message)}")
            if f.snippet:
                out.append(f"         > {_s(f.snippet, keep_tabs=True)}")
        out.append("")
    if not report.findings:
        out.append("No findings.")
    out.extend(f"error: {_s(e.file)}: {_s(e.reason)}" for e in report.errors)
    out.extend(f"skipped: {_s(s.file)}: {_s(s.reason)}" for s in report.skipped)
    st = report.stats
    out.append(
        f"{st.get('files_scanned', 0)} files, {st.get('functions', 0)} functions, "
        f"{len(report.findings)} findings in {st.get('seconds', 0)} s"
    )
    return "\n".join(out) + "\n"
