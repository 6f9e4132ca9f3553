"""False positives of the data-flow detector on mature, presumed-clean packages.

Each package of `rules_realcode.py` in a language the engine covers (Python,
JavaScript, TypeScript, C, C++; Solidity for the blind-class checks) is analysed as a
whole tree, as `vulnsight scan --detectors flow` would (taint and the checks of
`vulnsight.dataflow.blind`; cross-file flows count), and every finding is presumed false. The flag
rate is the share of functions holding a finding's sink. Packages are fetched and cached
exactly as `rules_realcode.py` does (`pip download`, `npm pack`).

    PYTHONPATH=src python benchmarks/flow_realcode.py [--group heldout|tuning|all]
        [--json benchmarks/results/flow_realcode.json] [--list-findings] [--language L]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rules_realcode import PACKAGES, fetch, source_files  # noqa: E402

from vulnsight.dataflow import analyse, has_spec  # noqa: E402
from vulnsight.errors import VulnsightError  # noqa: E402

try:  # absent before the blind-class checks (to measure the engine alone, as before)
    from vulnsight.dataflow.blind import run_checks
except ImportError:  # pragma: no cover
    run_checks = None  # type: ignore[assignment]
from vulnsight.languages import language_of  # noqa: E402
from vulnsight.parse.callgraph import CallGraph  # noqa: E402
from vulnsight.parse.extract import extract  # noqa: E402
from vulnsight.types import SourceFile  # noqa: E402

#: Languages only the blind-class checks cover (no taint specification).
CHECKED = ("solidity",)


def measure(group: str, list_findings: bool, language: str = "") -> list[dict[str, object]]:
    """One row per package (of `language` when given): size, findings, flag rate, time."""
    rows: list[dict[str, object]] = []
    for pkg in PACKAGES:
        if language and pkg.language != language:
            continue
        if group not in ("all", pkg.group) or not (
            has_spec(pkg.language) or pkg.language in CHECKED
        ):
            continue
        root = fetch(pkg)
        files = []
        for path in source_files(pkg, root):
            text = path.read_text(encoding="utf-8", errors="replace")
            lang = language_of(path) or pkg.language
            files.append(SourceFile(str(path.relative_to(root)), lang, text))
        started = time.perf_counter()
        functions = []
        for f in list(files):
            try:
                functions.extend(extract(f))
            except VulnsightError:  # over the parse budget: the scan skips it as well
                files.remove(f)
        parsed = time.perf_counter()
        result = analyse(files, functions, CallGraph.build(functions))
        # the flow detector also runs the blind-class checks (C/C++, Solidity)
        checked, _ = run_checks(files, functions) if run_checks else ([], [])
        findings = [*result.findings, *checked]
        done = time.perf_counter()
        units = [fn for fn in functions if fn.kind != "toplevel"]
        flagged = {(f.file, f.function) for f in findings}
        loc = sum(1 for f in files for line in f.text.splitlines() if line.strip())
        rows.append(
            {
                "group": pkg.group,
                "package": pkg.spec,
                "language": pkg.language,
                "files": len(files),
                "loc": loc,
                "functions": len(units),
                "findings": len(findings),
                "check_findings": len(checked),
                "flagged_functions": len(flagged),
                "flag_rate": round(len(flagged) / max(1, len(units)), 5),
                "parse_s": round(parsed - started, 3),
                "flow_s": round(done - parsed, 3),
                "errors": len(result.errors),
                "list": [f"{f.file}:{f.line_number} {f.cwe} {f.message}" for f in findings]
                if list_findings
                else [],
            }
        )
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "list"}), file=sys.stderr)
    return rows


def main() -> int:
    """Fetch, analyse and report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", choices=("tuning", "heldout", "all"), default="heldout")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--list-findings", action="store_true")
    ap.add_argument("--language", default="", help="only packages of this language")
    args = ap.parse_args()
    rows = measure(args.group, args.list_findings, args.language)
    functions = sum(int(str(r["functions"])) for r in rows)
    flagged = sum(int(str(r["flagged_functions"])) for r in rows)
    print(
        "| group | package | lang | files | LOC | functions | findings | flagged fn | rate "
        "| flow s |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['group']} | {r['package']} | {r['language']} | {r['files']} | {r['loc']} | "
            f"{r['functions']} | {r['findings']} | {r['flagged_functions']} | "
            f"{float(str(r['flag_rate'])):.2%} | {r['flow_s']} |"
        )
    print(
        f"\ntotal: {flagged} of {functions} functions flagged ({flagged / max(1, functions):.3%})"
    )
    for r in rows:
        for line in r["list"] if isinstance(r["list"], list) else []:
            print(f"  {r['package']}: {line}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "group": args.group,
            "language": args.language or "all",
            "python": platform.python_version(),
        }
        args.json.write_text(json.dumps({"config": config, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
