"""run_semgrep over small files: exact (rule, line) pairs, relative paths and metadata."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vulnsight.errors import RulesError
from vulnsight.rules import engine
from vulnsight.rules.engine import (
    normalise_cwe,
    rule_metadata,
    run_semgrep,
    strip_rule_prefix,
)
from vulnsight.types import Severity, fingerprint

needs_semgrep = pytest.mark.skipif(shutil.which("semgrep") is None, reason="no semgrep")

FILES = {
    "app/db.py": (
        "def find(cur, name):\n"
        "    cur.execute(\"SELECT * FROM t WHERE n = '%s'\" % name)\n"
        "    cur.execute('SELECT * FROM t WHERE n = ?', (name,))\n"
        "    tmp = tempfile.mktemp()\n"
    ),
    "app/safe.py": "def find(cur, name):\n    cur.execute('SELECT 1 WHERE n = ?', (name,))\n",
    "src/copy.c": (
        "void f(char *in) {\n"
        "    char buf[16];\n"
        "    gets(buf);\n"
        "    printf(in);\n"
        '    printf("%s", in);\n'
        "}\n"
    ),
    "src/safe.c": 'void f(char *in) {\n    printf("%s", in);\n}\n',
    "src/free.cpp": ("void g() {\n    char *d = new char[10];\n    delete[] d;\n    use(d);\n}\n"),
    "web/x.js": (
        "function f(db, name) {\n"
        '  db.query("SELECT * FROM t WHERE n = \'" + name + "\'");\n'
        "  db.query('SELECT * FROM t WHERE n = ?', [name]);\n"
        "  eval(name);\n"
        "}\n"
    ),
    "web/safe.js": "function f(db, n) {\n  db.query('SELECT 1 WHERE n = ?', [n]);\n}\n",
    "chain/C.sol": (
        "pragma solidity ^0.5.0;\n"
        "contract C {\n"
        "  function f(address o) public {\n"
        "    require(tx.origin == o);\n"
        "  }\n"
        "  function g(address payable a) public {\n"
        "    a.send(1 ether);\n"
        "  }\n"
        "}\n"
    ),
    "chain/Safe.sol": (
        "pragma solidity ^0.5.0;\n"
        "contract S {\n"
        "  function f() public {\n"
        "    require(msg.sender != address(0));\n"
        "  }\n"
        "}\n"
    ),
}

EXPECTED = {
    ("app/db.py", 2, "vulnsight.python.sqli-formatted-query"),
    ("app/db.py", 4, "vulnsight.python.tempfile-mktemp"),
    ("src/copy.c", 3, "vulnsight.c.gets"),
    ("src/copy.c", 4, "vulnsight.c.format-string-variable"),
    ("src/free.cpp", 4, "vulnsight.cpp.use-after-free"),
    ("web/x.js", 2, "vulnsight.javascript.sqli-string-built-query"),
    ("web/x.js", 4, "vulnsight.javascript.code-eval-non-constant"),
    ("chain/C.sol", 4, "vulnsight.solidity.tx-origin-auth"),
    ("chain/C.sol", 7, "vulnsight.solidity.unchecked-low-level-call"),
}


@pytest.fixture()
def tree(tmp_path: Path) -> list[Path]:
    paths = []
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.mark.semgrep
@needs_semgrep
def test_exact_rule_line_pairs(tree: list[Path], tmp_path: Path) -> None:
    findings, errors = run_semgrep(tree, tmp_path)
    assert errors == []
    assert {(f.file, f.line_number, f.rule_id) for f in findings} == EXPECTED
    assert not any(f.file.endswith(("safe.py", "safe.c", "safe.js", "Safe.sol")) for f in findings)


@pytest.mark.semgrep
@needs_semgrep
def test_finding_fields(tree: list[Path], tmp_path: Path) -> None:
    findings, _ = run_semgrep(tree, tmp_path)
    sqli = next(f for f in findings if f.rule_id == "vulnsight.python.sqli-formatted-query")
    assert sqli.cwe == "CWE-89"
    assert sqli.detector == "rules" and sqli.detectors == ("rules",)
    assert sqli.severity is Severity.HIGH
    assert sqli.snippet == "cur.execute(\"SELECT * FROM t WHERE n = '%s'\" % name)"
    assert sqli.fingerprint == fingerprint(sqli.rule_id or "", "app/db.py", None, sqli.snippet)
    assert 0 < sqli.confidence <= 1
    gets = next(f for f in findings if f.rule_id == "vulnsight.c.gets")
    assert gets.cwe == "CWE-242" and gets.end_line == 3


@pytest.mark.semgrep
@needs_semgrep
def test_no_targets_runs_nothing(tmp_path: Path) -> None:
    assert run_semgrep([], tmp_path) == ([], [])


def test_missing_semgrep_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(engine.shutil, "which", lambda _name: None)
    monkeypatch.setattr(engine.sys, "executable", str(tmp_path / "python"))
    target = tmp_path / "a.py"
    target.write_text("x = 1\n")
    with pytest.raises(RulesError, match="not installed"):
        run_semgrep([target], tmp_path)


def test_offline_environment() -> None:
    env = engine.semgrep_env({"SEMGREP_APP_TOKEN": "x", "PATH": "/bin"})
    assert "SEMGREP_APP_TOKEN" not in env
    assert env["SEMGREP_ENABLE_VERSION_CHECK"] == "0"
    assert env["SEMGREP_SEND_METRICS"] == "off"
    cmd = engine.semgrep_command([Path("a.py")], [Path("r.yaml")], 30, 2)
    assert "--metrics=off" in cmd and "--disable-version-check" in cmd


def test_normalise_and_strip() -> None:
    assert normalise_cwe("CWE-89: Improper Neutralization") == "CWE-89"
    assert normalise_cwe(["cwe-78: OS"]) == "CWE-78"
    assert normalise_cwe(None) == ""
    assert strip_rule_prefix("src.vulnsight.rules.pack.vulnsight.c.gets") == "vulnsight.c.gets"
    assert strip_rule_prefix("tmp.x.my-rule", {"my-rule"}) == "my-rule"


def test_rule_metadata() -> None:
    metas = rule_metadata()
    meta = metas["vulnsight.python.sqli-formatted-query"]
    assert meta.cwe == "CWE-89" and meta.languages == ("python",)
    assert meta.severity is Severity.HIGH
    assert all(m.cwe.startswith("CWE-") for m in metas.values())


@pytest.mark.semgrep
@needs_semgrep
def test_what_semgrep_leaves_out_is_an_error_not_a_silent_pass() -> None:
    from vulnsight.rules.engine import run_semgrep_sources
    from vulnsight.types import SourceFile

    big = "import os\n\n\ndef run(x):\n    os.system('ls ' + x)\n" + "y = 1\n" * 200_000
    small = SourceFile("small.py", "python", "import os\nos.system('ls ' + input())\n")
    findings, errors = run_semgrep_sources([SourceFile("big.py", "python", big), small])
    assert {(f.file, f.line_number) for f in findings} == {("small.py", 2)}
    assert [(e.file, e.detector) for e in errors] == [("big.py", "rules")]
    assert errors[0].reason.startswith("not scanned by the rules (Semgrep skipped it")


@pytest.mark.semgrep
@needs_semgrep
def test_snippets_come_from_the_reported_line_despite_odd_line_breaks() -> None:
    from vulnsight.rules.engine import run_semgrep_sources
    from vulnsight.types import SourceFile

    # a form feed and U+2028 are line breaks to str.splitlines, not to Semgrep
    text = "#include <stdio.h>\n/* \x0c page \u2028 sep */\nvoid f(char *b) {\n  gets(b);\n}\n"
    findings, errors = run_semgrep_sources([SourceFile("c.c", "c", text)])
    assert errors == []
    gets = next(f for f in findings if f.rule_id == "vulnsight.c.gets")
    assert (gets.line_number, gets.snippet) == (4, "gets(b);")
