"""Who calls whom among the scanned functions, resolved by short name.

Resolution is by name only: a call to `bar` (from `obj.bar()` or `ns::bar()`) matches
every function whose name ends in `bar` in the same language family, preferring
definitions in the caller's own file. A name defined in more than `MAX_DEFINITIONS`
places is ambiguous and resolves to same-file definitions only.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vulnsight.types import Function

MAX_DEFINITIONS = 5
#: Same-file definitions of one name a call may land on. More is no real code's shape
#: (a file of 5,000 `def f` calling `f` made every call resolve to all of them: data-flow
#: summaries were quadratic, 150 kB took 30 s); such a call resolves to none.
MAX_LOCAL_DEFINITIONS = 16

_FAMILY = {"c": "c", "cpp": "c", "javascript": "js", "typescript": "js"}
_IDENTIFIER = re.compile(r"^[A-Za-z_$~][\w$]*$")


def family(language: str) -> str:
    """The language family whose functions may call each other (c/cpp, js/ts)."""
    return _FAMILY.get(language, language)


def short_name(fn: Function) -> str | None:
    """The name calls use for `fn` (`Ns::Foo::bar` -> `bar`), None when nothing can call it.

    Top-level units and anonymous callbacks (`app.get('/x') handler`) have no such name.
    """
    if fn.kind == "toplevel":
        return None
    last = re.split(r"::|\.", fn.name)[-1]
    return last if _IDENTIFIER.match(last) else None


@dataclass(frozen=True, eq=False)
class CallGraph:
    """Name-based call graph over one scan's functions. Build it with `CallGraph.build`."""

    functions: tuple[Function, ...]
    _defined: Mapping[tuple[str, str], tuple[int, ...]]  # (family, name) -> definitions
    _calling: Mapping[tuple[str, str], tuple[int, ...]]  # (family, name) -> its callers
    _local: Mapping[tuple[str, str, str], tuple[int, ...]]  # (family, name, file) -> defs
    _index: Mapping[str, int]  # qualified_id -> position in `functions`

    @classmethod
    def build(cls, functions: Sequence[Function]) -> CallGraph:
        """Index `functions` by the names they define and the names they call."""
        defined: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        calling: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        local: defaultdict[tuple[str, str, str], list[int]] = defaultdict(list)
        index: dict[str, int] = {}
        for position, fn in enumerate(functions):
            index.setdefault(fn.qualified_id, position)
            fam = family(fn.language)
            name = short_name(fn)
            if name is not None:
                defined[(fam, name)].append(position)
                local[(fam, name, fn.file)].append(position)
            for callee in fn.calls:
                calling[(fam, callee)].append(position)
        return cls(
            functions=tuple(functions),
            _defined={key: tuple(value) for key, value in defined.items()},
            _calling={key: tuple(value) for key, value in calling.items()},
            _local={key: tuple(value) for key, value in local.items()},
            _index=index,
        )

    def callees(self, fn: Function) -> list[Function]:
        """The functions `fn` calls that are defined in the scanned tree, in call order."""
        fam = family(fn.language)
        own = self._index.get(fn.qualified_id)
        found: dict[int, None] = {}
        for name in fn.calls:
            for position in self._resolve(fam, name, fn.file):
                if position != own:
                    found[position] = None
        return [self.functions[position] for position in found]

    def callers(self, fn: Function) -> list[Function]:
        """The functions that call `fn` by name, same-file callers first."""
        name = short_name(fn)
        own = self._index.get(fn.qualified_id)
        if name is None or own is None:
            return []
        fam = family(fn.language)
        result = [
            position
            for position in dict.fromkeys(self._calling.get((fam, name), ()))
            if position != own and own in self._resolve(fam, name, self.functions[position].file)
        ]
        result.sort(key=lambda position: self.functions[position].file != fn.file)
        return [self.functions[position] for position in result]

    def _resolve(self, fam: str, name: str, file: str) -> tuple[int, ...]:
        """Where a call to `name` from `file` may land."""
        candidates = self._defined.get((fam, name), ())
        local = self._local.get((fam, name, file), ())
        if local:
            return local if len(local) <= MAX_LOCAL_DEFINITIONS else ()
        return candidates if len(candidates) <= MAX_DEFINITIONS else ()
