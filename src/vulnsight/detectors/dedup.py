"""Duplicate functions inside one scan: the model judges one, the others reuse its verdict.

Vendored copies, generated code and copy-pasted helpers repeat the same function in
many files. Two functions are duplicates when the verdict cache would give them the
same key (`review/cache.py`): the same language, the same code once comments are
stripped and whitespace collapsed, and the same data-flow facts digest. So a scan
without the cache now gives the duplicates the verdict a scan with the cache gives them
(there the second copy read the first one's cached verdict, unless both fell in the same
chunk). A duplicate's finding is the representative's, moved to the duplicate's file
and to the same line relative to its first line.

Everything here is pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from vulnsight.parse.comments import strip_comments
from vulnsight.types import Finding, Function, fingerprint, normalise_code


def duplicate_key(fn: Function, salt: str = "") -> str:
    """What makes two functions the same to the model: language, normalised code, salt."""
    h = hashlib.sha256()
    text = normalise_code(strip_comments(fn.code, fn.language, fn.file))
    for part in (fn.language, text, salt):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Duplicates:
    """The functions to judge, and for each duplicate the function judged for it."""

    unique: tuple[Function, ...]
    #: `qualified_id` of a duplicate -> the representative judged in its place
    judged_as: Mapping[str, Function]

    @property
    def count(self) -> int:
        """How many functions get a verdict without a model call of their own."""
        return len(self.judged_as)


def find_duplicates(functions: Sequence[Function], salts: Mapping[str, str] = {}) -> Duplicates:
    """Group `functions` by `duplicate_key`; the first of each group (in order) is judged."""
    first: dict[str, Function] = {}
    unique: list[Function] = []
    judged_as: dict[str, Function] = {}
    for fn in functions:
        key = duplicate_key(fn, salts.get(fn.qualified_id, ""))
        rep = first.setdefault(key, fn)
        if rep is fn:
            unique.append(fn)
        else:
            judged_as[fn.qualified_id] = rep
    return Duplicates(tuple(unique), judged_as)


def moved_finding(finding: Finding, rep: Function, dup: Function) -> Finding:
    """`finding` (on `rep`) as it reads on the duplicate `dup`: same relative line."""
    line = dup.start_line + (finding.line_number - rep.start_line)
    if not dup.start_line <= line <= dup.end_line:  # laid out on fewer lines than `rep`
        line = dup.start_line
    lines = dup.code.splitlines()
    index = line - dup.start_line
    snippet = lines[index].strip() if 0 <= index < len(lines) else finding.snippet
    return replace(
        finding,
        file=dup.file,
        line_number=line,
        function=dup.name,
        message=finding.message.replace(f"flags {rep.name} ", f"flags {dup.name} ", 1),
        snippet=snippet,
        fingerprint=fingerprint(finding.cwe, dup.file, dup.name, snippet),
    )
