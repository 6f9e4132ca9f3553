"""Report -> readable text for terminals: findings grouped by file, then what the
scanned repository's configuration changed, what was suppressed, then problems."""

from __future__ import annotations

from itertools import groupby

from vulnsight.textsafe import safe_text as printable
from vulnsight.types import Report

#: How each kind of suppression is named in the summary line.
SUPPRESSION_NAMES = {
    "inline": "inline mark",
    "config": "config ignore",
    "baseline": "baseline",
    "triage": "triage",
}


def config_lines(report: Report) -> list[str]:
    """The "repository configuration changed" block (empty when nothing changed)."""
    effects = [e for e in report.config if e.origin == "repository"]
    if not effects:
        return []
    sources = sorted({e.source for e in effects if e.source})
    where = f" ({printable(', '.join(sources))})" if sources else ""
    out = [f"repository configuration changed{where}:"]
    for e in effects:
        tag = "" if e.action == "applied" else f" [{e.action}]"
        out.append(f"  {printable(e.key)}: {printable(e.message)}{tag}")
    return out


def suppression_line(report: Report) -> str | None:
    """ "suppressed: N findings (inline mark 2, ...)" from the stats, when any were."""
    st = report.stats
    parts = [
        f"{name} {int(st.get(f'suppressed_{kind}', 0))}"
        for kind, name in SUPPRESSION_NAMES.items()
        if st.get(f"suppressed_{kind}")
    ]
    total = sum(int(st.get(f"suppressed_{kind}", 0)) for kind in SUPPRESSION_NAMES)
    if not total:
        return None
    return f"suppressed: {total} finding(s) not shown ({', '.join(parts)})"


def render(report: Report) -> str:
    """Findings grouped by file (line, CWE, confidence, detectors, function, message),
    then configuration effects and suppressions, errors and skipped files, then a
    one-line summary."""
    out: list[str] = []
    for file, group in groupby(report.findings, key=lambda f: f.file):
        out.append(printable(file))
        for f in group:
            by = "+".join(f.detectors or (f.detector,))
            where = f" in {printable(f.function)}" if f.function else ""
            tag = " [suppressed]" if f.suppressed else ""
            out.append(
                f"  {f.line_number:>5}  {f.cwe:<9} {f.type}  conf {f.confidence:.2f}  "
                f"({by}){where}{tag}"
            )
            out.append(f"         {printable(f.message)}")
            if f.snippet:
                out.append(f"         > {printable(f.snippet, keep_tabs=True)}")
            if f.path:
                out.append("         path:")
                out.extend(
                    f"           {n}. {printable(s.file)}:{s.line} in "
                    f"{printable(s.function)}: {printable(s.description)}"
                    for n, s in enumerate(f.path, start=1)
                )
        out.append("")
    if not report.findings:
        out.append("No findings.")
    out.extend(config_lines(report))
    line = suppression_line(report)
    if line:
        out.append(line)
    for e in report.errors:
        if e.detector == "state":
            out.append(f"warning: {printable(e.reason)}")
        else:
            out.append(f"error: {printable(e.file)}: {printable(e.reason)}")
    out.extend(f"skipped: {printable(s.file)}: {printable(s.reason)}" for s in report.skipped)
    st = report.stats
    out.append(
        f"{st.get('files_scanned', 0)} files, {st.get('functions', 0)} functions, "
        f"{len(report.findings)} findings in {st.get('seconds', 0)} s"
    )
    held = st.get("model_held_at_min_confidence", 0)
    if held:
        out.append(
            f"{held} rule hit(s) held at --min-confidence: the model would have lowered "
            "them below it (see their messages)"
        )
    return "\n".join(out) + "\n"
