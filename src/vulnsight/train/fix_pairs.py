"""Vulnerable/fixed function pairs from the two versions of a file a fix commit changed.

Pure: file texts go in, shared-schema records come out. Each function that the fix
changed becomes a pair: the version before the commit (label 1, `lines` = the lines the
fix deleted or rewrote, 1-based inside `code`) and the version after it (label 0, the
fixed twin). Noise is dropped and counted: changes to whitespace or comments only,
identifier renames only, test functions, functions the fix changed by more than a few
lines, and every pair of a commit that changes too many functions to be one fix.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tree_sitter import Node

from vulnsight.errors import VulnsightError
from vulnsight.parse import extract
from vulnsight.parse.comments import strip_comments
from vulnsight.parse.grammars import grammar_name, parse_text
from vulnsight.textsafe import safe_text
from vulnsight.train.fix_commits import CommitInfo, FixPolicy, Selection, cwe_for
from vulnsight.types import Function, SourceFile

SOURCE = "fixes"
_TOKEN_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*|\d[\w.]*|\S")
_WORD_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_WS_RE = re.compile(r"\s+")
# Definitions whose members are examined one by one when a change touches them.
_SCOPES = frozenset(
    {
        "class_definition", "class_declaration", "abstract_class_declaration", "class",
        "class_specifier", "struct_specifier", "namespace_definition", "contract_declaration",
        "library_declaration", "interface_declaration", "linkage_specification",
    }
)  # fmt: skip
# Nodes whose children are definitions in their own right: preprocessor branches, and
# the ERROR regions tree-sitter leaves where macros confuse it (they can span a file).
_TRANSPARENT = frozenset(
    {"ERROR", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "export_statement"}
)
_TEST_FUNCTION_RE = re.compile(r"(?:^|[.:])(?:test_?|Test)[A-Za-z0-9_]*$")


@dataclass(frozen=True)
class FileVersions:
    """One code file a fix commit modified: its path, language and both texts."""

    path: str
    language: str
    before: str
    after: str


@dataclass(frozen=True)
class FunctionPair:
    """A function the fix changed, before and after, with the changed lines of each side
    (1-based inside the function's code)."""

    path: str
    language: str
    before: Function
    after: Function
    deleted: tuple[int, ...]
    added: tuple[int, ...]


def changed_lines(before: str, after: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(lines of `before` deleted or rewritten, lines of `after` added or rewritten),
    1-based; trailing whitespace is ignored, indentation is not (it moves code into or
    out of a check)."""
    a = [line.rstrip() for line in before.split("\n")]
    b = [line.rstrip() for line in after.split("\n")]
    deleted: list[int] = []
    added: list[int] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            deleted.extend(range(i1 + 1, i2 + 1))
        if tag in ("replace", "insert"):
            added.extend(range(j1 + 1, j2 + 1))
    return tuple(deleted), tuple(added)


def touched_rows(before: str, after: str) -> tuple[set[int], set[int]]:
    """0-based rows of each text inside or next to a change (a quick file-level diff:
    common ends trimmed, the rest matched with difflib's heuristics, so a large file
    with a few changes costs little; it may over-approximate, never miss a change)."""
    a, b = before.split("\n"), after.split("\n")
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    rows_a: set[int] = set()
    rows_b: set[int] = set()
    matcher = difflib.SequenceMatcher(None, a[head : len(a) - tail], b[head : len(b) - tail])
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            rows_a.update(range(head + i1 - 1, head + max(i2, i1 + 1)))
            rows_b.update(range(head + j1 - 1, head + max(j2, j1 + 1)))
    return rows_a, rows_b


def _blankable(node: Node, data: bytes) -> bool:
    """Whether `node` has its rows to itself (nothing else on its first or last row)."""
    before = data[data.rfind(b"\n", 0, node.start_byte) + 1 : node.start_byte]
    end = data.find(b"\n", node.end_byte)
    after = data[node.end_byte : len(data) if end < 0 else end]
    return not before.strip() and not after.strip()


def focus(text: str, language: str, path: str, rows: set[int]) -> str:
    """`text` with the definitions that no row of `rows` touches blanked out (their
    lines emptied, the line count kept), so that extracting functions from a large file
    costs in proportion to what changed. Classes, namespaces and contracts that a change
    touches are entered, and their untouched members blanked in turn."""
    lines = text.split("\n")
    tree, data = parse_text(text, grammar_name(language, path))
    blank: set[int] = set()
    stack: list[Node] = [tree.root_node]
    while stack:
        for child in stack.pop().named_children:
            span = range(child.start_point.row, child.end_point.row + 1)
            if not rows.intersection(span):
                if _blankable(child, data):
                    blank.update(span)
                continue
            body = child.child_by_field_name("body")
            if child.type in _SCOPES and body is not None:
                stack.append(body)
            elif child.type in _TRANSPARENT:
                stack.append(child)
    return "\n".join("" if i in blank else line for i, line in enumerate(lines))


def _functions(path: str, language: str, text: str) -> dict[tuple[str, str], list[Function]]:
    by_key: dict[tuple[str, str], list[Function]] = {}
    for fn in extract(SourceFile(path, language, text)):
        if fn.kind != "toplevel":
            by_key.setdefault((fn.name, fn.kind), []).append(fn)
    return by_key


def function_pairs(file: FileVersions) -> list[FunctionPair]:
    """The functions present in both versions of `file` whose code differs, matched by
    qualified name and kind (by order among same-named ones, and only when both versions
    hold as many). Raises ParseError when a version cannot be parsed."""
    rows_before, rows_after = touched_rows(file.before, file.after)
    before = _functions(
        file.path, file.language, focus(file.before, file.language, file.path, rows_before)
    )
    after = _functions(
        file.path, file.language, focus(file.after, file.language, file.path, rows_after)
    )
    pairs: list[FunctionPair] = []
    for key, olds in before.items():
        news = after.get(key, [])
        if len(olds) != len(news):
            continue
        for old, new in zip(olds, news, strict=True):
            if old.code == new.code:
                continue
            deleted, added = changed_lines(old.code, new.code)
            pairs.append(FunctionPair(file.path, file.language, old, new, deleted, added))
    pairs.sort(key=lambda p: (p.before.start_line, p.before.name))
    return pairs


def _tokens(code: str, language: str, path: str) -> list[str]:
    return _TOKEN_RE.findall(strip_comments(code, language, path))


def _renames_only(old: list[str], new: list[str]) -> bool:
    """Whether `new` is `old` with some non-called identifiers consistently renamed."""
    if len(old) != len(new):
        return False
    forward: dict[str, str] = {}
    backward: dict[str, str] = {}
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        if a != b:
            called = i + 1 < len(old) and (old[i + 1] == "(" or new[i + 1] == "(")
            if called or not (_WORD_RE.match(a) and _WORD_RE.match(b)):
                return False
        if forward.setdefault(a, b) != b or backward.setdefault(b, a) != a:
            return False
    return True


def noise_reason(pair: FunctionPair, policy: FixPolicy) -> str | None:
    """Why a changed function is not a usable pair, or None when it is."""
    if _TEST_FUNCTION_RE.search(pair.before.name):
        return "test function"
    if max(len(pair.before.code), len(pair.after.code)) > policy.max_chars:
        return "function too long"
    old = _tokens(pair.before.code, pair.language, pair.path)
    new = _tokens(pair.after.code, pair.language, pair.path)
    if old == new:
        return "whitespace or comments only"
    if _renames_only(old, new):
        return "renames only"
    if len(pair.deleted) + len(pair.added) > policy.max_changed_lines:
        return "too many changed lines"
    return None


def summary(message: str, limit: int = 200) -> str:
    """The first line of a commit message, made safe to print and cut to `limit`."""
    first = message.strip().split("\n", 1)[0].strip()
    return safe_text(first[:limit])


def pair_records(
    pair: FunctionPair, commit: CommitInfo, selection: Selection, project: str
) -> list[dict[str, Any]]:
    """The two shared-schema records of a pair: before (label 1), after (label 0)."""
    digest = hashlib.sha256(
        f"{project}\0{commit.sha}\0{pair.path}\0{pair.before.name}\0{pair.before.start_line}".encode(
            "utf-8", "surrogatepass"
        )
    ).hexdigest()[:16]
    pair_id = f"fixes:{project}:{commit.sha[:12]}:{digest}"
    meta: dict[str, Any] = {
        "repo": project,
        "commit": commit.sha,
        "parent": commit.parents[0],
        "pair_id": pair_id,
        "cve": selection.cves[0] if selection.cves else None,
        "advisories": [*selection.cves, *selection.ghsas],
        "selected_by": selection.reason,
        "cwe_from": selection.cwe_from,
        "cwes_named": list(selection.cwes),
        "message": summary(commit.message),
        "function": pair.before.name,
    }
    common = {
        "language": pair.language,
        "cwe": cwe_for(selection.cwes, pair.language),
        "source": SOURCE,
        "project": project,
        "path": pair.path,
    }
    before: dict[str, Any] = {
        "id": f"{pair_id}:before",
        **common,
        "code": pair.before.code,
        "label": 1,
        "lines": list(pair.deleted),
        "meta": {**meta, "start_line": pair.before.start_line},
    }
    after: dict[str, Any] = {
        "id": f"{pair_id}:after",
        **common,
        "code": pair.after.code,
        "label": 0,
        "lines": [],
        "meta": {**meta, "start_line": pair.after.start_line, "added_lines": list(pair.added)},
    }
    # key order of the shared schema
    order = ("id", "language", "code", "label", "cwe", "lines", "source", "project", "path")
    return [{k: rec[k] for k in (*order, "meta")} for rec in (before, after)]


def commit_records(
    commit: CommitInfo,
    selection: Selection,
    files: Sequence[FileVersions],
    policy: FixPolicy,
    project: str,
    dropped: Counter[str],
) -> list[dict[str, Any]]:
    """The records of one selected commit; what is filtered out is counted in `dropped`.

    A file that cannot be parsed is skipped (counted); a commit whose changed functions
    outnumber `policy.max_functions` yields nothing (a refactor carrying a fix teaches
    the wrong lines)."""
    kept: list[FunctionPair] = []
    changed = 0
    for file in files:
        try:
            pairs = function_pairs(file)
        except VulnsightError:
            dropped["unparsable file"] += 1
            continue
        for pair in pairs:
            reason = noise_reason(pair, policy)
            if reason != "whitespace or comments only":
                changed += 1
            if reason is None:
                kept.append(pair)
            else:
                dropped[reason] += 1
    if changed > policy.max_functions:
        dropped["commit changes too many functions"] += len(kept)
        return []
    return [rec for pair in kept for rec in pair_records(pair, commit, selection, project)]


def _norm(code: str) -> str:
    return _WS_RE.sub("", code)


def deduplicate(records: Iterable[dict[str, Any]], dropped: Counter[str]) -> list[dict[str, Any]]:
    """Drop repeated pairs (a fix cherry-picked to a branch) and every pair one of whose
    sides also appears with the other label (a fix later fixed again), as the shared
    datasets do; whitespace is ignored. Records keep their order; pairs stay whole."""
    pairs: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        pairs.setdefault(str(rec["meta"]["pair_id"]), []).append(rec)
    labels: dict[str, set[int]] = {}
    for group in pairs.values():
        for rec in group:
            labels.setdefault(_norm(rec["code"]), set()).add(int(rec["label"]))
    seen: set[tuple[str, ...]] = set()
    out: list[dict[str, Any]] = []
    for group in pairs.values():
        key = tuple(_norm(r["code"]) for r in group)
        if key in seen:
            dropped["duplicate pair"] += 1
            continue
        seen.add(key)
        if any(len(labels[k]) > 1 for k in key):
            dropped["code seen with both labels"] += 1
            continue
        out.extend(group)
    return out
