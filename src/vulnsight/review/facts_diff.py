"""`--diff` and data flow: the unchanged functions whose facts a change altered.

A change in a helper (its sanitiser removed, a new sink) changes what flows through its
callers although their text did not change. `facts_changed` analyses the scanned files
as they were at the diff's ref (the changed files read with `git cat-file`, the others
as they are) and returns the functions outside the change whose data-flow facts digest
(`dataflow/facts.py`) differs from before, so the scan judges and reports them too.
Functions are matched by file, name and their order among same-named functions (lines
shift). Prints nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from vulnsight.dataflow import FlowResult, analyse
from vulnsight.parse.callgraph import CallGraph
from vulnsight.review.diff import ChangeSet
from vulnsight.types import Function, SourceFile


def _keys(functions: Iterable[Function]) -> dict[tuple[str, str, int], Function]:
    """Functions by (file, name, n-th of that name in the file, in line order)."""
    seen: dict[tuple[str, str], int] = {}
    out: dict[tuple[str, str, int], Function] = {}
    for fn in sorted(functions, key=lambda f: (f.file, f.start_line, f.end_line)):
        n = seen.get((fn.file, fn.name), 0)
        seen[(fn.file, fn.name)] = n + 1
        out[(fn.file, fn.name, n)] = fn
    return out


def facts_changed(
    changes: ChangeSet,
    root: Path,
    files: Sequence[SourceFile],
    functions: Sequence[Function],
    flow: Callable[[], FlowResult],
    read_old: Callable[[str], str | None],
) -> set[str]:
    """Qualified ids of functions outside the change whose data-flow facts changed.

    `read_old(path)` gives a scan-root-relative file's text at the ref (None: absent).
    """
    from vulnsight.pipeline import parse_files

    changed = [f for f in files if changes.lines_of(root, f.path)]
    if not changed:
        return set()
    now = flow().facts
    before: list[SourceFile] = []
    for f in changed:
        text = read_old(f.path)
        if text is not None:
            before.append(replace(f, text=text))
    moved = {f.path for f in changed}
    old_functions, _ = parse_files(before)
    old_functions += [fn for fn in functions if fn.file not in moved]
    old_files = [f for f in files if f.path not in moved] + before
    graph = CallGraph.build(old_functions)
    then = analyse(old_files, old_functions, graph).facts
    old_by_key = _keys(old_functions)
    out: set[str] = set()
    for key, fn in _keys(functions).items():
        if changes.touches(root, fn):
            continue  # judged anyway
        old = old_by_key.get(key)
        if old is None:
            continue
        new_facts = now.get(fn.qualified_id)
        old_facts = then.get(old.qualified_id)
        if (new_facts.digest if new_facts else "") != (old_facts.digest if old_facts else ""):
            out.add(fn.qualified_id)
    return out
