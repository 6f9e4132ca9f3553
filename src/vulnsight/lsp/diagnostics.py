"""Findings as LSP diagnostics, hovers and code actions. Pure: no I/O, no server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lsprotocol import types

from vulnsight.cwe import cwe_name
from vulnsight.review.suppress import COMMENT_OPENERS
from vulnsight.types import Finding

SOURCE = "vulnsight"
EXPLAIN_COMMAND = "vulnsight.explain"
#: The reason an inserted suppression carries until the user writes theirs.
REASON_PLACEHOLDER = "reviewed: explain here why this is safe"

_SEVERITY = {
    "high": types.DiagnosticSeverity.Error,
    "medium": types.DiagnosticSeverity.Warning,
    "low": types.DiagnosticSeverity.Information,
}

#: How many code units (UTF-16 by default in LSP) a piece of a line takes.
UnitCounter = Callable[[str], int]


def utf16_units(text: str) -> int:
    """Code units of `text` in UTF-16, LSP's default position encoding."""
    return len(text.encode("utf-16-le")) // 2


def code_of(f: Finding) -> str:
    """The diagnostic code: the rule's id, or the CWE of a model finding."""
    return f.rule_id or f.cwe


def cwe_url(cwe: str) -> str:
    """MITRE's page for a CWE id such as CWE-95."""
    return f"https://cwe.mitre.org/data/definitions/{cwe.split('-')[-1]}.html"


def line_range(lines: Sequence[str], line_number: int, units: UnitCounter) -> types.Range:
    """The range of a 1-based line's text without its indentation and trailing space."""
    idx = min(max(line_number - 1, 0), max(len(lines) - 1, 0))
    text = lines[idx] if lines else ""
    stripped = text.rstrip()
    indent = len(stripped) - len(stripped.lstrip())
    start = units(stripped[:indent])
    end = units(stripped)
    return types.Range(types.Position(idx, start), types.Position(idx, max(end, start)))


def explanation(f: Finding) -> str:
    """What a finding means, in Markdown: CWE, rule, confidence, who agrees, where."""
    agree = ", ".join(f.detectors or (f.detector,))
    parts = [
        f"**{f.cwe}: {cwe_name(f.cwe)}** ({code_of(f)})",
        "",
        f.message,
        "",
        f"Confidence {f.confidence:.2f}; severity {f.severity.value}; detectors: {agree}"
        + (f"; model {f.model}" if f.model else ""),
    ]
    if f.function:
        parts.append(f"In `{f.function}`, line {f.line_number}.")
    parts += ["", f"See {cwe_url(f.cwe)}"]
    return "\n".join(parts)


def to_diagnostic(
    f: Finding, lines: Sequence[str], units: UnitCounter = utf16_units
) -> types.Diagnostic:
    """One finding as a diagnostic on its line of the scanned text."""
    agree = "+".join(f.detectors or (f.detector,))
    data: dict[str, Any] = {
        "cwe": f.cwe,
        "rule": f.rule_id,
        "fingerprint": f.fingerprint,
        "confidence": f.confidence,
        "detectors": list(f.detectors or (f.detector,)),
        "explanation": explanation(f),
    }
    return types.Diagnostic(
        range=line_range(lines, f.line_number, units),
        message=f"{f.message} ({f.cwe} {cwe_name(f.cwe)}; confidence {f.confidence:.2f}; {agree})",
        severity=_SEVERITY.get(f.severity.value, types.DiagnosticSeverity.Warning),
        code=code_of(f),
        code_description=types.CodeDescription(href=cwe_url(f.cwe)),
        source=SOURCE,
        data=data,
    )


def suppression_line(language: str, ids: str, indent: str, reason: str = REASON_PLACEHOLDER) -> str:
    """A comment line that suppresses findings `ids` on the line below it
    (`review.suppress` reads it), in the language's comment syntax."""
    opener = COMMENT_OPENERS.get(language, ("//",))[0]
    return f"{indent}{opener} vulnsight: ignore[{ids}] {reason}\n"


def suppression_action(
    uri: str, diagnostic: types.Diagnostic, lines: Sequence[str], language: str
) -> types.CodeAction:
    """A quick fix inserting a suppression comment, with a reason, above the flagged line."""
    line = diagnostic.range.start.line
    text = lines[line] if 0 <= line < len(lines) else ""
    indent = text[: len(text) - len(text.lstrip())]
    ids = str(diagnostic.code)
    edit = types.TextEdit(
        range=types.Range(types.Position(line, 0), types.Position(line, 0)),
        new_text=suppression_line(language, ids, indent),
    )
    return types.CodeAction(
        title=f"vulnsight: suppress {ids} here (with a reason)",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=types.WorkspaceEdit(changes={uri: [edit]}),
    )


def explain_action(diagnostic: types.Diagnostic) -> types.CodeAction | None:
    """A code action that shows the finding's explanation (via `vulnsight.explain`)."""
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    text = data.get("explanation")
    if not isinstance(text, str):
        return None
    return types.CodeAction(
        title=f"vulnsight: explain {diagnostic.code}",
        kind=types.CodeActionKind.Empty,
        diagnostics=[diagnostic],
        command=types.Command(title="Show explanation", command=EXPLAIN_COMMAND, arguments=[text]),
    )
