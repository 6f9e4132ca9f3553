"""`vulnsight lsp` driven over real stdio, as an editor drives it: initialize, didOpen,
didChange, didSave, codeAction, shutdown, exit; exact diagnostic ranges of the rule
pack's hits in a fixture, the suppression edit, the project's config honoured, and
nothing written into the project while scanning unsaved text."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import FIXTURES, ROOT
from .lsp_client import LspClient, initialize

pygls = pytest.importorskip("pygls")
pytestmark = pytest.mark.semgrep

EVAL_RULE = "vulnsight.python.code-eval-non-constant"
EVAL_LINE = '    return eval(expression, {"m": metrics})'
SUPPRESSION = f"    # vulnsight: ignore[{EVAL_RULE}] reviewed: explain here why this is safe\n"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _lines(params: dict) -> set[tuple[str, int, int, int]]:
    return {
        (
            d["code"],
            d["range"]["start"]["line"],
            d["range"]["start"]["character"],
            d["range"]["end"]["character"],
        )
        for d in params["diagnostics"]
    }


def test_lsp_over_stdio(tmp_path):
    project = tmp_path / "proj"
    (project / "ops").mkdir(parents=True)
    (project / ".git").mkdir()  # the project root: config discovery stops here
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    # A legacy file's findings are in the project's baseline.
    legacy = project / "ops" / "accounts.py"
    legacy_text = (FIXTURES / "python" / "vulnerable" / "accounts.py").read_text()
    legacy.write_text(legacy_text)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vulnsight.cli",
            "baseline",
            "create",
            str(project),
            "--detectors",
            "rules",
            "-o",
            str(project / "vulnsight-baseline.json"),
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    source = (FIXTURES / "python" / "vulnerable" / "maintenance.py").read_text()
    target = project / "ops" / "maintenance.py"
    target.write_text(source)
    (project / "vulnsight.toml").write_text(
        'baseline = "vulnsight-baseline.json"\n'
        '[[ignore]]\nrules = ["vulnsight.python.yaml-unsafe-load"]\nreason = "trusted files"\n'
    )
    before = _tree(project)
    uri = target.as_uri()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vulnsight.cli", "lsp", "--detectors", "rules"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=project,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    client = LspClient(proc.stdin, proc.stdout)
    try:
        caps = initialize(client, project.as_uri())["capabilities"]
        assert caps["codeActionProvider"] and caps["hoverProvider"]
        assert caps["textDocumentSync"]["save"] is not None

        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": source}},
        )
        v1 = client.wait_for("textDocument/publishDiagnostics", lambda p: p.get("version") == 1)
        assert v1["uri"] == uri
        # The rule pack's hits at their exact lines and characters (0-based); the
        # yaml.load hit on line 20 is ignored by the project's vulnsight.toml.
        assert _lines(v1) == {
            ("vulnsight.python.os-command-non-constant", 10, 4, 87),
            ("vulnsight.python.os-command-non-constant", 14, 4, 38),
            ("vulnsight.python.unsafe-deserialization", 23, 4, 29),
            (EVAL_RULE, 27, 4, len(EVAL_LINE)),
        }
        eval_diag = next(d for d in v1["diagnostics"] if d["code"] == EVAL_RULE)
        assert eval_diag["source"] == "vulnsight" and eval_diag["severity"] in (1, 2)
        assert "CWE-95" in eval_diag["message"] and "confidence" in eval_diag["message"]
        assert eval_diag["data"]["detectors"] == ["rules"]
        assert eval_diag["codeDescription"]["href"].endswith("/95.html")

        # Unsaved edit: two lines above everything, then save -> diagnostics move.
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 0},
                            "end": {"line": 0, "character": 0},
                        },
                        "text": "# edited\n# in the editor\n",
                    }
                ],
            },
        )
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        v2 = client.wait_for("textDocument/publishDiagnostics", lambda p: p.get("version") == 2)
        assert (EVAL_RULE, 29, 4, len(EVAL_LINE)) in _lines(v2)
        eval_v2 = next(d for d in v2["diagnostics"] if d["code"] == EVAL_RULE)

        actions = client.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": uri},
                "range": eval_v2["range"],
                "context": {"diagnostics": [eval_v2]},
            },
        )
        fix = next(a for a in actions if a.get("kind") == "quickfix")
        (edit,) = fix["edit"]["changes"][uri]
        assert edit["range"] == {
            "start": {"line": 29, "character": 0},
            "end": {"line": 29, "character": 0},
        }
        assert edit["newText"] == SUPPRESSION
        explain = next(a for a in actions if a.get("command"))
        assert explain["command"]["command"] == "vulnsight.explain"
        assert "CWE-95" in explain["command"]["arguments"][0]

        hover = client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 29, "character": 10}},
        )
        assert EVAL_RULE in hover["contents"]["value"]

        # Apply the quick fix as the editor would; the suppressed hit disappears.
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": 3},
                "contentChanges": [{"range": edit["range"], "text": edit["newText"]}],
            },
        )
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        v3 = client.wait_for("textDocument/publishDiagnostics", lambda p: p.get("version") == 3)
        assert _lines(v3) == {
            ("vulnsight.python.os-command-non-constant", 12, 4, 87),
            ("vulnsight.python.os-command-non-constant", 16, 4, 38),
            ("vulnsight.python.unsafe-deserialization", 25, 4, 29),
        }

        # The baselined file shows nothing until a new finding is typed into it.
        legacy_uri = legacy.as_uri()
        client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": legacy_uri,
                    "languageId": "python",
                    "version": 7,
                    "text": legacy_text,
                }
            },
        )
        old = client.wait_for(
            "textDocument/publishDiagnostics",
            lambda p: p["uri"] == legacy_uri and p.get("version") == 7,
        )
        assert old["diagnostics"] == []
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": legacy_uri, "version": 8},
                "contentChanges": [
                    {"text": legacy_text + "\n\ndef run(code):\n    return eval(code)\n"}
                ],
            },
        )
        client.notify("textDocument/didSave", {"textDocument": {"uri": legacy_uri}})
        new = client.wait_for(
            "textDocument/publishDiagnostics",
            lambda p: p["uri"] == legacy_uri and p.get("version") == 8,
        )
        assert _lines(new) == {(EVAL_RULE, 23, 4, 21)}

        client.request("shutdown", None)
        client.notify("exit", None)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The edits lived in the editor only: the scans wrote nothing into the project.
    assert _tree(project) == before
    shutil.rmtree(project)
