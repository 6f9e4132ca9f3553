"""`--diff` and data flow: the unchanged functions whose facts a change altered.

A change in a helper (its sanitiser removed, a new sink) changes what flows through its
callers although their text did not change, and through their callers in turn (A in
a.py calls B in b.py calls C in c.py; C now passes its parameter to a sink: B's summary
changes, so A's facts change too). `facts_changed` analyses the parsed files as they are
and as they were at the diff's ref (the changed files read with `git cat-file`, the
others as they are) and compares every function's data-flow facts digest
(`dataflow/facts.py`). It grows the parsed set to a fixpoint: while some function's
facts changed, the files not parsed yet that name it (its possible callers) or one of
its callees (facts also flow down, into the parameters of callees) are parsed and both
analyses run again. A change that alters no function's facts stops after the first
round, so an irrelevant edit in a large tree costs what it cost before. Functions are
matched by file, name and their order among same-named functions (lines shift).
Prints nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from vulnsight.dataflow import FlowResult, analyse
from vulnsight.dataflow.facts import FunctionFacts
from vulnsight.parse.callgraph import CallGraph
from vulnsight.review.diff import ChangeSet
from vulnsight.types import Function, ScanError, SourceFile

#: Rounds of growth (each adds the files one call away from the functions whose facts
#: changed in the round before); past them every remaining file is parsed in one final
#: round (the whole tree analysed) and a note says so in the report's errors.
MAX_ROUNDS = 12


@dataclass(frozen=True)
class FactsChange:
    """What `facts_changed` found and what it parsed beyond the files it was given."""

    ids: frozenset[str]  # qualified ids of unchanged functions whose facts changed
    files: tuple[SourceFile, ...] = ()  # files parsed to follow the change
    functions: tuple[Function, ...] = ()  # their functions
    errors: tuple[ScanError, ...] = ()  # their parser errors
    flow: FlowResult | None = None  # the analysis of everything parsed, as it is now
    rounds: int = 0  # analyses of the tree as it is and as it was (0: none ran)


def _keys(functions: Iterable[Function]) -> dict[tuple[str, str, int], Function]:
    """Functions by (file, name, n-th of that name in the file, in line order)."""
    seen: dict[tuple[str, str], int] = {}
    out: dict[tuple[str, str, int], Function] = {}
    for fn in sorted(functions, key=lambda f: (f.file, f.start_line, f.end_line)):
        n = seen.get((fn.file, fn.name), 0)
        seen[(fn.file, fn.name)] = n + 1
        out[(fn.file, fn.name, n)] = fn
    return out


def _digest(facts: FunctionFacts | None) -> str:
    return facts.digest if facts is not None else ""


def _short(name: str) -> str:
    return name.replace("::", ".").rsplit(".", 1)[-1]


def _naming(files: Iterable[SourceFile], names: set[str]) -> list[SourceFile]:
    """The files whose text spells one of `names` as a whole word (possible callers)."""
    names = {n for n in names if n.isidentifier()}
    if not names:
        return []
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(names))) + r")(?!\w)")
    return [f for f in files if pattern.search(f.text)]


#: A parameter list: parentheses nested one level deep at most, no `;{}`, matched
#: possessively (`*+`: never given back) and bounded, so a file of `f(f(f(...` costs a
#: scan linear in its size, not one per `f(` to the end of the file.
_PARAMS = r"\((?:[^;{}()]|\([^;{}()]{0,256}\)){0,512}+\)"


def _defining(files: Iterable[SourceFile], names: set[str]) -> list[SourceFile]:
    """The files that look like they define one of `names` (`def f`, `function f`,
    `f(...) {`, `f = (...) =>`, `f: function`): where a callee's parameters live."""
    names = {n for n in names if n.isidentifier()}
    if not names:
        return []
    alt = "|".join(map(re.escape, sorted(names)))
    pattern = re.compile(
        rf"(?:\b(?:def|function|func|fn)\s+(?:{alt})\b)"
        rf"|(?:(?<![\w.])(?:{alt})\s*{_PARAMS}\s*(?:const\s*)?\{{)"
        rf"|(?:(?<![\w])(?:{alt})\s*[:=]\s*(?:async\s+)?(?:function\b|{_PARAMS}\s*=>))"
    )
    return [f for f in files if pattern.search(f.text)]


def facts_changed(
    changes: ChangeSet,
    root: Path,
    files: Sequence[SourceFile],
    functions: Sequence[Function],
    flow: Callable[[], FlowResult],
    read_old: Callable[[str], str | None],
    unparsed: Sequence[SourceFile] = (),
) -> FactsChange:
    """Unchanged functions whose data-flow facts the change altered (see the module doc).

    `files`/`functions` are what the scan parsed, `flow` its analysis of them;
    `unparsed` the scan's other files, parsed here only where a changed fact leads.
    `read_old(path)` gives a scan-root-relative file's text at the ref (None: absent).
    """
    from vulnsight.pipeline import parse_files

    changed = [f for f in files if changes.lines_of(root, f.path)]
    if not changed:
        return FactsChange(frozenset())
    before: list[SourceFile] = []
    for f in changed:
        text = read_old(f.path)
        if text is not None:
            before.append(replace(f, text=text))
    moved = {f.path for f in changed}
    old_changed, _ = parse_files(before)
    parsed_files, parsed_functions = list(files), list(functions)
    extra_files: list[SourceFile] = []
    extra_functions: list[Function] = []
    extra_errors: list[ScanError] = []
    rest = [f for f in unparsed if f.path not in moved]
    now = flow()

    def grow(more: list[SourceFile]) -> FlowResult:
        """Parse `more` into the set and analyse everything parsed as it is now."""
        nonlocal rest
        taken = {f.path for f in more}
        rest = [f for f in rest if f.path not in taken]
        new_functions, new_errors = parse_files(more)
        extra_files.extend(more)
        parsed_files.extend(more)
        extra_functions.extend(new_functions)
        parsed_functions.extend(new_functions)
        extra_errors.extend(new_errors)
        return analyse(parsed_files, parsed_functions, CallGraph.build(parsed_functions))

    # what the changed functions called before is where their old facts flowed
    defined = {_short(fn.name) for fn in parsed_functions}
    first = _defining(rest, {_short(c) for fn in old_changed for c in fn.calls} - defined)
    if first:
        now = grow(first)
    ids: set[str] = set()
    followed: set[str] = set()
    rounds = 0
    final = False  # the last round: the whole tree parsed
    while True:
        rounds += 1
        old_functions = old_changed + [fn for fn in parsed_functions if fn.file not in moved]
        old_files = [f for f in parsed_files if f.path not in moved] + before
        then = analyse(old_files, old_functions, CallGraph.build(old_functions)).facts
        old_by_key = _keys(old_functions)
        fresh: list[Function] = []
        for key, fn in _keys(parsed_functions).items():
            old = old_by_key.get(key)
            was = _digest(then.get(old.qualified_id)) if old is not None else ""
            if _digest(now.facts.get(fn.qualified_id)) == was and old is not None:
                continue
            if old is not None and not changes.touches(root, fn):
                ids.add(fn.qualified_id)
            if fn.qualified_id not in followed:
                followed.add(fn.qualified_id)
                fresh.append(fn)
        if not fresh or final:
            break
        if rounds >= MAX_ROUNDS:
            # still spreading: parse every remaining file at once and analyse the whole
            # tree in one last round, so no flow is cut off at the cap (never fewer
            # findings on the changed lines than a full scan)
            if not rest:
                break
            extra_errors.append(
                ScanError(
                    changed[0].path,
                    f"--diff: the change's data-flow facts still spread after {MAX_ROUNDS} "
                    f"rounds; the {len(rest)} remaining file(s) were parsed and the whole "
                    "tree analysed in one final round",
                    "flow",
                )
            )
            final = True
            now = grow(list(rest))
            continue
        # up: the files naming them; down: the files defining what they call
        defined = {_short(fn.name) for fn in parsed_functions}
        called = {_short(c) for fn in fresh for c in fn.calls} - defined
        up = _naming(rest, {_short(fn.name) for fn in fresh})
        seen_up = {f.path for f in up}
        more = up + [f for f in _defining(rest, called) if f.path not in seen_up]
        if not more:
            break
        now = grow(more)
    return FactsChange(
        frozenset(ids),
        tuple(extra_files),
        tuple(extra_functions),
        tuple(extra_errors),
        now if extra_files else None,
        rounds,
    )
