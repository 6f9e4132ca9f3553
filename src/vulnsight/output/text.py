"""Report -> readable text for terminals: findings grouped by file, then problems."""

from __future__ import annotations

from itertools import groupby

from vulnsight.types import Report


def render(report: Report) -> str:
    """Findings grouped by file (line, CWE, confidence, detectors, function, message),
    then errors and skipped files, then a one-line summary."""
    out: list[str] = []
    for file, group in groupby(report.findings, key=lambda f: f.file):
        out.append(file)
        for f in group:
            by = "+".join(f.detectors or (f.detector,))
            where = f" in {f.function}" if f.function else ""
            tag = " [suppressed]" if f.suppressed else ""
            out.append(
                f"  {f.line_number:>5}  {f.cwe:<9} {f.type}  conf {f.confidence:.2f}  "
                f"({by}){where}{tag}"
            )
            out.append(f"         {f.message}")
            if f.snippet:
                out.append(f"         > {f.snippet}")
            if f.path:
                out.append("         path:")
                out.extend(
                    f"           {n}. {s.file}:{s.line} in {s.function}: {s.description}"
                    for n, s in enumerate(f.path, start=1)
                )
        out.append("")
    if not report.findings:
        out.append("No findings.")
    out.extend(f"error: {e.file}: {e.reason}" for e in report.errors)
    out.extend(f"skipped: {s.file}: {s.reason}" for s in report.skipped)
    st = report.stats
    out.append(
        f"{st.get('files_scanned', 0)} files, {st.get('functions', 0)} functions, "
        f"{len(report.findings)} findings in {st.get('seconds', 0)} s"
    )
    return "\n".join(out) + "\n"
