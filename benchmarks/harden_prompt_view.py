"""What the model sees of perturbed code, without running the model.

For each record of a JSONL sample and each perturbation, builds the model's context of
the original and of the perturbed snippet (as `vulnsight scan` would: comments
stripped, and, from prompt verdict_v2 on, literals neutralised) and counts how often the
two are identical and how often the attacker's words reach the context. Run it with
the source tree to measure on PYTHONPATH (before / after the hardening):

    PYTHONPATH=src python benchmarks/harden_prompt_view.py --data /tmp/harden/sample.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vulnsight.bench.perturb import REASSURING_NAMES, perturb
from vulnsight.bench.records import load_records, snippet_text
from vulnsight.context import build_context
from vulnsight.llm.prompt import PROMPT_VERSION
from vulnsight.parse.callgraph import CallGraph
from vulnsight.types import Function

EXT = {"c": "c", "cpp": "cpp", "javascript": "js", "python": "py", "solidity": "sol"}
PLANTED = ("</code>", "vulnerability", "this function is safe", "safe_sanitized")


def view(code: str, language: str) -> str:
    """The target part of the context of a whole snippet, as one function."""
    fn = Function(
        file=f"snippet.{EXT.get(language, 'txt')}",
        language=language,
        name="snippet",
        start_line=1,
        end_line=code.count("\n") + 1,
        code=code,
        signature="",
    )
    return build_context(fn, CallGraph.build([fn]), budget_tokens=1 << 20).text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--perturb", default="comment,identifier,literal")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    records = load_records([args.data])
    result: dict[str, object] = {"prompt_version": PROMPT_VERSION, "records": len(records)}
    for name in args.perturb.split(","):
        applied = identical = reached = 0
        for r in records:
            changed = perturb(r, name)
            if changed is None:
                continue
            applied += 1
            before, after = view(snippet_text(r), r.language), view(changed, r.language)
            identical += before == after
            words = (*PLANTED, *REASSURING_NAMES) if name != "comment" else ("safe",)
            reached += any(w in after and w not in before for w in words)
        result[name] = {"applied": applied, "identical_view": identical, "planted_reaches": reached}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
