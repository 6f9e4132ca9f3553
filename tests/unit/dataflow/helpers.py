"""Running the data-flow engine over a fixture tree copied into a temporary directory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from vulnsight.dataflow import FlowResult, analyse
from vulnsight.discover import discover
from vulnsight.parse.callgraph import CallGraph
from vulnsight.pipeline import parse_files

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dataflow"


def copy_fixture(language: str, tmp_path: Path) -> Path:
    """The fixture tree of `language`, copied (expected.json left out)."""
    target = tmp_path / language
    shutil.copytree(FIXTURES / language, target, ignore=shutil.ignore_patterns("expected.json"))
    return target


def run_flow(root: Path) -> FlowResult:
    """What the engine finds in every file under `root`."""
    found = discover([root])
    functions, _ = parse_files(found.files)
    return analyse(found.files, functions, CallGraph.build(functions))


def as_records(result: FlowResult) -> list[dict[str, Any]]:
    """Findings as plain data: location, CWE, rule and every path step."""
    return [
        {
            "file": f.file,
            "line": f.line_number,
            "cwe": f.cwe,
            "rule_id": f.rule_id,
            "function": f.function,
            "path": [[s.file, s.line, s.function, s.description] for s in f.path],
        }
        for f in result.findings
    ]
