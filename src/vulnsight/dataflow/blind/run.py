"""Running the blind-class checks over a scan's files and turning hits into findings."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tree_sitter import Node

from vulnsight.dataflow.blind import (
    c_bounds,
    c_capacity,
    c_lifetime,
    c_memory,
    c_null,
    c_uninit,
    js_code,
    js_crypto,
    js_data,
    js_injection,
    js_random,
    js_web,
    python,
    solidity,
)
from vulnsight.dataflow.blind.base import Check, FunctionCheck, Hit, Reader
from vulnsight.dataflow.blind.js_common import file_facts, repaired_source
from vulnsight.dataflow.sol_contracts import ContractIndex
from vulnsight.dataflow.syntax import walk
from vulnsight.errors import VulnsightError
from vulnsight.parse.grammars import grammar_name, parse_text
from vulnsight.types import (
    Finding,
    Function,
    PathStep,
    ScanError,
    Severity,
    SourceFile,
    fingerprint,
)

DETECTOR = "flow"

#: Per language family: the checks over each C function node, and over a whole
#: Solidity file (its contracts' state is file-wide) or Python file (its module
#: statements are a scope of their own).
C_CHECKS: tuple[FunctionCheck, ...] = (
    c_memory.null_deref_after_alloc,
    c_memory.realloc_loses_pointer,
    c_null.null_deref_known_null,
    c_null.null_test_not_short_circuit,
    c_bounds.off_by_one,
    c_bounds.strncpy_no_terminator,
    c_bounds.signed_size_bounded_above,
    c_bounds.size_truncated_to_int,
    c_lifetime.use_after_free,
    c_uninit.uninitialised_read,
    c_capacity.constant_size_overflow,
)
SOLIDITY_CHECKS: tuple[FunctionCheck, ...] = (
    solidity.reentrancy,
    solidity.missing_access_control,
    solidity.unchecked_arithmetic,
    solidity.unbounded_loop_external_call,
)
#: JavaScript and TypeScript: checks over a whole file (module-level code counts).
JS_CHECKS: tuple[FunctionCheck, ...] = (
    js_code.eval_non_constant,
    js_code.require_non_constant,
    js_code.exec_built_command,
    js_random.weak_random_value,
    js_web.post_message_any_origin,
    js_web.html_from_non_constant,
    js_web.cleartext_url,
    js_data.regexp_non_constant,
    js_data.fs_path_built,
    js_data.buffer_non_constant,
    js_data.buffer_no_assert,
    js_crypto.weak_crypto,
    js_crypto.tls_verification_off,
    js_crypto.secret_compared,
    js_crypto.hard_coded_secret,
    js_injection.sql_built,
    js_injection.prototype_pollution_merge,
)
#: Python: checks over a whole file (how each string was built is read file-wide).
PYTHON_CHECKS: tuple[FunctionCheck, ...] = (python.built_strings,)
#: Every check, by rule id (for documentation and the benchmark).
CHECKS: dict[str, Check] = {
    c.rule_id: c
    for c in (
        c_memory.NULL_DEREF, c_memory.REALLOC_LEAK, c_null.KNOWN_NULL, c_null.EAGER_TEST,
        c_bounds.OFF_BY_ONE, c_bounds.NO_TERMINATOR, c_bounds.SIGNED_SIZE,
        c_bounds.TRUNCATED_SIZE, c_lifetime.USE_AFTER_FREE, c_lifetime.DOUBLE_FREE,
        c_uninit.UNINITIALISED, c_capacity.OVERFLOW, solidity.REENTRANCY, solidity.ACCESS,
        solidity.ARITHMETIC,
        solidity.DOS_LOOP, js_code.EVAL, js_code.REQUIRE, js_code.EXEC, js_random.WEAK_RANDOM,
        js_web.POST_MESSAGE, js_web.HTML, js_data.REGEXP, js_data.FS_PATH, js_data.BUFFER,
        js_data.NO_ASSERT, js_crypto.WEAK_HASH, js_crypto.WEAK_CIPHER, js_crypto.TLS_OFF,
        js_crypto.TIMING, js_crypto.SECRET, js_injection.SQL, js_injection.PROTOTYPE,
        js_web.CLEARTEXT,
        python.SHELL, python.SQL, python.EVAL, python.AUTOESCAPE,
    )
}  # fmt: skip
_LANGUAGES = {
    "c": C_CHECKS,
    "cpp": C_CHECKS,
    "solidity": SOLIDITY_CHECKS,
    "javascript": JS_CHECKS,
    "typescript": JS_CHECKS,
    "python": PYTHON_CHECKS,
}
#: Languages whose checks read the whole file at once.
_FILE_WIDE = frozenset({"solidity", "python"})
#: Languages whose checks also read module-level code (findings there belong to it).
_MODULE_LEVEL = frozenset({"javascript", "typescript"})
_WS = re.compile(r"\s+")


def run_checks(
    files: Sequence[SourceFile], functions: Sequence[Function]
) -> tuple[list[Finding], list[ScanError]]:
    """Findings of every check on the files that hold one of `functions`; a file that
    cannot be parsed becomes a `ScanError`."""
    by_file: dict[str, list[Function]] = {}
    for fn in functions:
        by_file.setdefault(fn.file, []).append(fn)
    findings: dict[tuple[str, int, str], Finding] = {}
    errors: list[ScanError] = []
    contracts = _contracts(files)
    for source in files:
        checks = _LANGUAGES.get(source.language)
        if not checks or source.path not in by_file:
            continue
        failed: dict[str, str] = {}
        try:
            hits = _file_hits(source, checks, contracts, failed)
        except (VulnsightError, ValueError, RecursionError) as exc:
            errors.append(ScanError(source.path, f"data-flow checks: {exc}", DETECTOR))
            continue
        for name, reason in failed.items():
            errors.append(ScanError(source.path, f"data-flow check {name}: {reason}", DETECTOR))
        lines = source.text.split("\n")
        for hit in hits:
            finding = _finding(hit, source, lines, by_file[source.path])
            findings.setdefault((finding.file, finding.line_number, finding.cwe), finding)
    ordered = sorted(findings.values(), key=lambda f: (f.file, f.line_number, f.cwe))
    return ordered, errors


def _contracts(files: Sequence[SourceFile]) -> ContractIndex | None:
    """Every Solidity contract of the scan (bases in other files included)."""
    trees = []
    for source in files:
        if source.language != "solidity":
            continue
        try:
            tree, data = parse_text(source.text, grammar_name(source.language, source.path))
        except (VulnsightError, ValueError, RecursionError):
            continue  # reported by the file's own checks
        trees.append((source.path, data, tree.root_node))
    return ContractIndex.build(trees) if trees else None


def _file_hits(
    source: SourceFile,
    checks: Sequence[FunctionCheck],
    contracts: ContractIndex | None = None,
    failed: dict[str, str] | None = None,
) -> list[Hit]:
    """The hits of `checks` over one file. A check that fails (a bug met on hostile
    input) loses only its own hits there: its name and the reason go into `failed`."""
    failures: dict[str, str] = {} if failed is None else failed
    grammar = grammar_name(source.language, source.path)
    if source.language in ("javascript", "typescript"):
        text, root = repaired_source(source.text, lambda t: parse_text(t, grammar)[0].root_node)
        reader = Reader(text.encode("utf-8", "surrogatepass"), source.path, "")
        reader.js = file_facts(reader, root)
        nodes = [root]
    else:
        tree, data = parse_text(source.text, grammar)
        reader = Reader(data, source.path, "")
        reader.contracts = contracts
        wide = source.language in _FILE_WIDE
        nodes = [tree.root_node] if wide else _function_nodes(tree.root_node)
    hits: list[Hit] = []
    for node in nodes:
        for check in checks:
            name = getattr(check, "__name__", "check")
            if name in failures:
                continue
            try:
                hits.extend(check(reader, node))
            except Exception as exc:  # one check's bug must not drop the others
                failures[name] = f"{type(exc).__name__}: {exc}"[:200]
    return hits


def _function_nodes(root: Node) -> list[Node]:
    return [n for n in walk(root) if n.type == "function_definition"]


def _finding(hit: Hit, source: SourceFile, lines: list[str], functions: list[Function]) -> Finding:
    owner = _owner(functions, hit.line)
    steps = tuple(
        PathStep(s.file, s.line, _owner(functions, s.line) or "", s.description) for s in hit.steps
    )
    snippet = lines[hit.line - 1].strip() if 0 < hit.line <= len(lines) else ""
    check = hit.check
    return Finding(
        file=source.path,
        line_number=hit.line,
        cwe=check.cwe,
        message=_WS.sub(" ", hit.message),
        detector=DETECTOR,
        confidence=check.confidence,
        severity=Severity.HIGH if check.confidence >= 0.7 else Severity.MEDIUM,
        function=owner,
        rule_id=check.rule_id,
        snippet=snippet,
        detectors=(DETECTOR,),
        fingerprint=fingerprint(check.rule_id, source.path, owner, snippet),
        path=steps,
    )


def _owner(functions: list[Function], line: int) -> str | None:
    """The innermost extracted function holding `line`; else the module-level unit
    (JavaScript's top-level code is checked too)."""
    holding = [f for f in functions if f.kind != "toplevel" and f.start_line <= line <= f.end_line]
    if not holding:
        top = [f for f in functions if f.kind == "toplevel" and f.language in _MODULE_LEVEL]
        return top[0].name if top and top[0].start_line <= line <= top[0].end_line else None
    return min(holding, key=lambda f: f.end_line - f.start_line).name
