"""Per-check precision and recall of the blind-class checks (`vulnsight.dataflow.blind`)
on the shared labelled corpora: each record is scanned alone, as `vulnsight eval` does.

A hit on a vulnerable record counts as true, on a clean record as false; recall is over
the vulnerable records of the CWEs the check is meant for (`TARGETS`). Development
figures: the checks were written and tuned on these same corpora.

    PYTHONPATH=src python benchmarks/blind_checks.py [--data DIR] [--json OUT] [--show RULE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from vulnsight.dataflow.blind import CHECKS, run_checks
from vulnsight.parse.extract import extract
from vulnsight.types import SourceFile

SOURCES = (
    "juliet_c_cpp",
    "sven_dev",
    "cyberseceval_icd",
    "solidifi",
    "semgrep_rules_tests",
    "securityeval",
    "llmseceval_secure",
)
#: Sources of one language family (the others hold several).
LANGUAGE_OF = {
    "juliet_c_cpp": "c",
    "sven_dev": "c",
    "cyberseceval_icd": "c",
    "solidifi": "solidity",
}
_EXT = {
    "c": "c",
    "cpp": "cpp",
    "solidity": "sol",
    "javascript": "js",
    "typescript": "ts",
    "python": "py",
}
#: The corpus CWEs each check is meant to find (recall is measured over these).
TARGETS = {
    "null-deref-after-alloc": {"CWE-476", "CWE-690"},
    "realloc-loses-pointer": {"CWE-401"},
    "null-deref-known-null": {"CWE-476"},
    "null-test-not-short-circuit": {"CWE-476", "CWE-480"},
    "off-by-one": {"CWE-193", "CWE-121", "CWE-122", "CWE-787"},
    "strncpy-no-terminator": {"CWE-170", "CWE-121", "CWE-122", "CWE-787"},
    "signed-size-bounded-above-only": {"CWE-195", "CWE-121", "CWE-122", "CWE-787", "CWE-190"},
    "size-truncated-to-int": {"CWE-197", "CWE-681", "CWE-190"},
    "use-after-free": {"CWE-416"},
    "double-free": {"CWE-415"},
    "uninitialised-read": {"CWE-457", "CWE-908"},
    "constant-size-overflow": {"CWE-787", "CWE-121", "CWE-122", "CWE-120"},
    "reentrancy": {"CWE-841"},
    "missing-access-control": {"CWE-284", "CWE-285", "CWE-862"},
    "unchecked-arithmetic": {"CWE-682", "CWE-190", "CWE-191"},
    "unbounded-loop-external-call": {"CWE-400", "CWE-834"},
    "eval-non-constant": {"CWE-94", "CWE-95"},
    "require-non-constant": {"CWE-95", "CWE-706", "CWE-829"},
    "exec-built-command": {"CWE-78", "CWE-95"},
    "weak-random-value": {"CWE-338", "CWE-330"},
    "post-message-any-origin": {"CWE-345"},
    "html-from-non-constant": {"CWE-79", "CWE-80", "CWE-116"},
    "regexp-non-constant": {"CWE-1333", "CWE-185", "CWE-400", "CWE-730"},
    "fs-path-built": {"CWE-22"},
    "buffer-constructor-non-constant": {"CWE-770"},
    "buffer-no-assert": {"CWE-119"},
    "weak-hash": {"CWE-327", "CWE-328", "CWE-916"},
    "weak-cipher": {"CWE-327", "CWE-310"},
    "tls-verification-off": {"CWE-295"},
    "secret-compared-not-constant-time": {"CWE-208"},
    "hard-coded-secret": {"CWE-798"},
    "sql-built-by-concatenation": {"CWE-89"},
    "prototype-pollution-merge": {"CWE-1321", "CWE-915"},
    "cleartext-url": {"CWE-319"},
    "shell-command-built": {"CWE-78", "CWE-77"},
    "sql-query-built": {"CWE-89"},
    "eval-built-code": {"CWE-94", "CWE-95"},
    "jinja2-autoescape-off": {"CWE-79", "CWE-80", "CWE-116"},
}


def main() -> int:
    """Print (and optionally save) one row per check and source."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="/work/shared/datasets")
    ap.add_argument("--json")
    ap.add_argument("--show", help="print the records a rule id (suffix) fires on")
    args = ap.parse_args()
    hits: Counter[tuple[str, str, int]] = Counter()  # (check id, source, label)
    target_vuln: Counter[tuple[str, str]] = Counter()  # (check id, source)
    target_hits: Counter[tuple[str, str]] = Counter()
    for source in SOURCES:
        path = Path(args.data) / f"{source}.jsonl"
        for line in path.read_text().splitlines():
            record = json.loads(line)
            lang = record["language"]
            if lang not in _EXT:
                continue
            for check in CHECKS.values():
                if (check.family == "python") != (lang == "python"):
                    continue  # a Python check is measured on Python records only
                if record["label"] == 1 and record["cwe"] in TARGETS[check.id]:
                    target_vuln[(check.id, source)] += 1
            file = SourceFile(f"record.{_EXT[lang]}", lang, record["code"])
            findings, _ = run_checks([file], extract(file))
            fired = {CHECKS[f.rule_id or ""].id: f for f in findings}
            for check_id, finding in fired.items():
                hits[(check_id, source, record["label"])] += 1
                if record["label"] == 1 and record["cwe"] in TARGETS[check_id]:
                    target_hits[(check_id, source)] += 1
                if args.show and check_id.endswith(args.show.lstrip("+")):
                    print(
                        f"--- {record['id']} label={record['label']} cwe={record['cwe']} "
                        f"line={finding.line_number}: {finding.message}"
                    )
                    if record["label"] == 0 or args.show.startswith("+"):
                        print(record["code"][:1500])
    rows = []
    for check in CHECKS.values():
        for source in SOURCES:
            family = LANGUAGE_OF.get(source)
            if family is not None and (family == "solidity") != (check.family == "solidity"):
                continue
            tp, fp = hits[(check.id, source, 1)], hits[(check.id, source, 0)]
            on_target = target_vuln[(check.id, source)]
            if not (tp or fp or on_target):
                continue
            rows.append(
                {
                    "check": check.id,
                    "cwe": check.cwe,
                    "source": source,
                    "vulnerable_hits": tp,
                    "clean_hits": fp,
                    "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                    "target_vulnerable": on_target,
                    "target_hits": target_hits[(check.id, source)],
                    "recall": round(target_hits[(check.id, source)] / on_target, 3)
                    if on_target
                    else None,
                }
            )
    print(
        "| check | CWE | source | hits vulnerable | hits clean | precision | "
        "recall on its CWEs (hits / vulnerable) |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        p = "-" if r["precision"] is None else f"{r['precision']:.2f}"
        print(
            f"| {r['check']} | {r['cwe']} | {r['source']} | {r['vulnerable_hits']} | "
            f"{r['clean_hits']} | {p} | {r['target_hits']}/{r['target_vulnerable']} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"sources": SOURCES, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
