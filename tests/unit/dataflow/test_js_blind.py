"""The JavaScript/TypeScript blind-class checks on their fixtures: each flags exactly the
(line, CWE, rule) pairs below, and the near-misses beside them (constants, escaped or
sanitised values, `crypto.randomBytes`, argument lists, `Buffer.from`) stay silent."""

from __future__ import annotations

from pathlib import Path

import pytest

from vulnsight.dataflow.blind import CHECKS, run_checks
from vulnsight.languages import language_of
from vulnsight.parse.extract import extract
from vulnsight.types import SourceFile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "blind"
JS = "vulnsight.flow.javascript."

EXPECTED: dict[str, list[tuple[int, str, str]]] = {
    "javascript/code.js": [
        (6, "CWE-95", "eval-non-constant"),
        (10, "CWE-95", "eval-non-constant"),
        (14, "CWE-95", "eval-non-constant"),
        (18, "CWE-95", "require-non-constant"),
        (22, "CWE-78", "exec-built-command"),
        (27, "CWE-78", "exec-built-command"),  # `command` is declared as a template
    ],
    "javascript/random.js": [
        (4, "CWE-338", "weak-random-value"),  # concatenated into an id
        (8, "CWE-338", "weak-random-value"),  # toString(36)
        (15, "CWE-338", "weak-random-value"),  # picks characters of an alphabet
        (21, "CWE-338", "weak-random-value"),  # stored as resetToken
    ],
    "javascript/browser.js": [
        (2, "CWE-345", "post-message-any-origin"),
        (10, "CWE-79", "html-from-non-constant"),
        (14, "CWE-79", "html-from-non-constant"),
        (18, "CWE-79", "html-from-non-constant"),
        (42, "CWE-319", "cleartext-url"),
        (46, "CWE-319", "cleartext-url"),
    ],
    "javascript/Comment.jsx": [(4, "CWE-79", "html-from-non-constant")],
    "javascript/data.js": [
        (6, "CWE-1333", "regexp-non-constant"),
        (10, "CWE-1333", "regexp-non-constant"),
        (14, "CWE-22", "fs-path-built"),
        (18, "CWE-22", "fs-path-built"),
        (22, "CWE-770", "buffer-constructor-non-constant"),
        (26, "CWE-119", "buffer-no-assert"),
        (76, "CWE-1333", "regexp-non-constant"),  # `width` is a parameter; `breaks` is fixed
    ],
    "javascript/crypto.js": [
        (5, "CWE-328", "weak-hash"),
        (9, "CWE-327", "weak-cipher"),
        (14, "CWE-295", "tls-verification-off"),
        (19, "CWE-208", "secret-compared-not-constant-time"),
        (23, "CWE-798", "hard-coded-secret"),
    ],
    "javascript/injection.js": [
        (2, "CWE-89", "sql-built-by-concatenation"),
        (7, "CWE-89", "sql-built-by-concatenation"),  # `sql` is declared as a template
        (13, "CWE-1321", "prototype-pollution-merge"),
    ],
    "typescript/server.ts": [
        (5, "CWE-78", "exec-built-command"),
        (9, "CWE-338", "weak-random-value"),
        (13, "CWE-22", "fs-path-built"),
        (17, "CWE-95", "eval-non-constant"),
    ],
}


def _hits(relative: str) -> list[tuple[int, str, str]]:
    path = FIXTURES / relative
    language = language_of(path)
    assert language is not None
    source = SourceFile(relative, language, path.read_text())
    findings, errors = run_checks([source], extract(source))
    assert errors == []
    js = [f for f in findings if f.rule_id and f.rule_id.startswith(JS)]
    return [(f.line_number, f.cwe, (f.rule_id or "").removeprefix(JS)) for f in js]


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_each_fixture_is_flagged_exactly(relative: str) -> None:
    assert _hits(relative) == EXPECTED[relative]


def test_every_js_check_has_a_fixture_hit() -> None:
    rules = {rule for hits in EXPECTED.values() for _, _, rule in hits}
    js_checks = {c.id for c in CHECKS.values() if c.family == "javascript"}
    assert js_checks == rules


def test_paths_lead_from_the_built_value_to_the_sink() -> None:
    source = SourceFile(
        "a.js",
        "javascript",
        "function f(d) {\n  const c = 'ls ' + d;\n  return eval(\n    c);\n}\n",
    )
    findings, _ = run_checks([source], extract(source))
    (finding,) = findings
    assert [(s.line, s.description) for s in finding.path] == [
        (4, "c is built at run time"),
        (3, "eval() runs it as code"),
    ]
    assert (finding.line_number, finding.function) == (3, "f")


def test_module_level_code_is_checked() -> None:
    code = "const m = require(process.env.PLUGIN);\nm.start();\n"
    source = SourceFile("m.js", "javascript", code)
    findings, _ = run_checks([source], extract(source))
    assert [(f.line_number, f.cwe) for f in findings] == [(1, "CWE-95")]


def test_constants_follow_names_the_file_binds_once() -> None:
    code = (
        "const A = 'x';\n"
        "const B = A + '/y';\n"
        "let c = 'z';\n"
        "c = process.argv[2];\n"
        "require(B);\n"
        "require(c);\n"
        "require(B).start();\n"
    )
    source = SourceFile("m.js", "javascript", code)
    findings, _ = run_checks([source], extract(source))
    assert [(f.line_number, f.cwe) for f in findings] == [(6, "CWE-95")]
