"""njsscan (JavaScript/TypeScript; libsast + Semgrep rules for Node.js).

njsscan pins an older Semgrep, so installing it beside vulnsight would downgrade
vulnsight's own engine: install it in its own environment and point
`$VULNSIGHT_NJSSCAN` at it, or put it at ~/.cache/vulnsight/peers/njsscan-venv
(see README, "Evaluation"). Confidence by severity: ERROR 0.9, WARNING 0.6, INFO 0.3.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vulnsight.bench.adapters.bandit import relative
from vulnsight.bench.adapters.interface import (
    AdapterError,
    AdapterOptions,
    Batch,
    Finding,
    Prediction,
    from_findings,
)
from vulnsight.bench.adapters.tool import find_tool, run_tool, version_of
from vulnsight.bench.records import Record

SEVERITY = {"ERROR": 0.9, "WARNING": 0.6, "INFO": 0.3}
_CWE = re.compile(r"CWE-\d+")


def njsscan_exe() -> str | None:
    """$VULNSIGHT_NJSSCAN, PATH, or the isolated environment under the vulnsight cache."""
    found = find_tool("njsscan", "VULNSIGHT_NJSSCAN")
    if found:
        return found
    from vulnsight.llm.models import cache_dir

    venv = cache_dir() / "peers" / "njsscan-venv" / "bin" / "njsscan"
    return str(venv) if venv.is_file() else None


class NjsscanAdapter:
    """One `njsscan --json` run over the JavaScript and TypeScript snippets."""

    name = "njsscan"
    kind = "peer"
    languages = frozenset({"javascript", "typescript"})
    excluded_sources: frozenset[str] = frozenset()
    compute = "cpu"
    chunk_size = 0

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.timeout = (options or AdapterOptions()).timeout_s

    def available(self) -> str | None:
        """Needs an njsscan executable."""
        if njsscan_exe():
            return None
        return (
            "njsscan is not installed (it pins an older semgrep: install it in its own "
            "venv and set $VULNSIGHT_NJSSCAN)"
        )

    def describe(self) -> dict[str, Any]:
        """Version."""
        exe = njsscan_exe()
        return {"version": version_of([exe, "--version"]) if exe else ""}

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """Results under `nodejs` and `templates`, each rule with its files and lines."""
        exe = njsscan_exe()
        if exe is None:
            raise AdapterError("njsscan is not installed")
        out_file = batch.root / ".njsscan.json"
        run_tool([exe, "--json", "-o", str(out_file), "."], self.timeout, cwd=batch.root)
        try:
            data = json.loads(Path(out_file).read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise AdapterError(f"njsscan wrote no readable JSON: {exc}") from exc
        hits: dict[str, list[Finding]] = defaultdict(list)
        for section in ("nodejs", "templates"):
            for rule_id, rule in (data.get(section) or {}).items():
                meta = rule.get("metadata") or {}
                cwes = _CWE.findall(str(meta.get("cwe", "")))
                conf = SEVERITY.get(str(meta.get("severity", "")).upper(), 0.5)
                for f in rule.get("files", []):
                    lines = f.get("match_lines") or [0]
                    hits[relative(f["file_path"], batch.root)].append(
                        Finding(int(lines[0]), cwes[0] if cwes else None, conf, rule_id)
                    )
        return [from_findings(r.id, hits.get(batch.paths[r.id], [])) for r in records]
