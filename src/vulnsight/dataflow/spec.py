"""Source, sink and sanitiser specifications, read from `specs/<language>.toml`.

The specifications are data, like the rule pack: a pattern is an `fnmatch` glob over the
dotted name of an expression (`request.args`, `*.execute`, `os.system`). Each file is
read once per process and validated into frozen dataclasses.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from fnmatch import translate
from functools import cache
from importlib import resources
from typing import Any

from vulnsight.errors import RulesError

#: TypeScript shares JavaScript's specification.
_SPEC_FILE = {
    "python": "python",
    "javascript": "javascript",
    "typescript": "javascript",
    "c": "c",
    "cpp": "c",
    "solidity": "solidity",
}

#: A sanitiser that cleans a value for every weakness (int(), parseInt()).
ALL_CWES = "*"


@dataclass(frozen=True)
class SourceSpec:
    """Where untrusted data enters: an attribute chain or the result of a call."""

    patterns: tuple[str, ...]
    label: str
    call: bool = False  # the pattern names a function whose result is untrusted
    confidence: float = 0.8
    # The weaknesses it counts for (empty: all). A local source (argv, environment,
    # stdin) is the user's own input: opening the file it names is what a CLI is for.
    cwes: frozenset[str] = frozenset()
    out_args: tuple[int, ...] = ()  # C: the call fills these arguments (`fgets(buf, ...)`)


@dataclass(frozen=True)
class SinkSpec:
    """A call whose argument must not be untrusted, with the weakness it causes."""

    id: str
    patterns: tuple[str, ...]
    cwe: str
    label: str
    args: tuple[int, ...] = ()  # positions checked; empty: every argument
    keywords: tuple[str, ...] = ()  # keyword arguments checked as well
    requires: str = ""  # regex the argument list must match (`shell=True`)
    unless: str = ""  # regex that makes the call safe (`Loader=SafeLoader`)
    constructor: bool = False  # `new Function(...)`
    # the call's receiver: "only" it is checked (`target.delegatecall(d)`: the address);
    # "also" it is checked once a checked argument is untrusted too (`to.transfer(n)`)
    receiver: str = ""
    # only data stored by a function anyone can call counts (Solidity: an amount read
    # from a state variable anyone can set); parameters are kept for the callers
    stored: bool = False
    # an item assignment, not a call: `response['Location'] = url` stores into one of
    # these keys of a value the patterns name (`response`, `*.headers`)
    items: tuple[str, ...] = ()

    def applies(self, arguments_text: str) -> bool:
        """Whether the call's argument text meets `requires` and not `unless`."""
        if self.requires and not re.search(self.requires, arguments_text):
            return False
        return not (self.unless and re.search(self.unless, arguments_text))


@dataclass(frozen=True)
class SanitiserSpec:
    """A call whose result is clean for the listed CWEs (`*`: every weakness)."""

    patterns: tuple[str, ...]
    cwes: frozenset[str]
    label: str
    validator: bool = False  # a check (`if not is_safe(x): return`), not a transformation


@dataclass(frozen=True)
class PropagatorSpec:
    """A call that copies its other arguments into argument `into` (`strcpy(dst, src)`)."""

    patterns: tuple[str, ...]
    into: int = 0


@dataclass(frozen=True)
class OperatorSpec:
    """An operator whose operand must not be untrusted (`x / n`: the divisor, CWE-369;
    `buf[i]`: the index, CWE-129; `n * 4`: either factor, CWE-190). `operand` is `left`,
    `right`, `index` or `integer` (`data + 1`, `data++`, `data += n`: an integer variable
    of the function's own, added to a literal or another such variable)."""

    operators: tuple[str, ...]
    operand: str
    sink: SinkSpec


@dataclass(frozen=True)
class LanguageSpec:
    """Everything the engine knows about one language's libraries."""

    language: str
    sources: tuple[SourceSpec, ...]
    sinks: tuple[SinkSpec, ...]
    sanitisers: tuple[SanitiserSpec, ...]
    handler_decorators: tuple[str, ...] = ()  # regexes: parameters are untrusted
    handler_names: tuple[str, ...] = ()  # exported functions whose parameters are untrusted
    propagators: tuple[PropagatorSpec, ...] = ()
    operators: tuple[OperatorSpec, ...] = ()
    # CWEs a comparison checks for (`if (n < 10) buf[n]`, `if (d != 0) x / d`), with the
    # CWEs that need an upper bound (`n < 10`, not `n >= 0`).
    comparison_cwes: frozenset[str] = frozenset()
    upper_bound_cwes: frozenset[str] = frozenset()
    nonzero_cwes: frozenset[str] = frozenset()  # need a comparison that excludes zero
    # regexes of operands a comparison with checks nothing (Solidity: `a != address(0)`
    # rules out one address, not the caller's choice of any other)
    trivial_operands: tuple[str, ...] = ()
    # casts to a type whose every value is a valid index (`(unsigned char)c` into a
    # 256-entry table) clean a value for these CWEs
    narrow_casts: tuple[str, ...] = ()
    narrow_cast_cwes: frozenset[str] = frozenset()
    # C: declared types of integer variables (`int`, `unsigned int`, `int64_t`): their
    # sums are checked by `integer` operators (a pointer's or a string's are not)
    integer_types: frozenset[str] = frozenset()
    # calls whose first argument holds afterwards (`require(n < 10)`): a check
    assertions: frozenset[str] = frozenset()
    # Solidity: functions of these visibilities take their arguments from anyone, unless
    # a modifier or a guard (regexes over the body: `msg.sender == owner`) restricts them
    entry_visibility: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()
    handler_label: str = "request parameter of a route handler"
    # name lookups already answered (names repeat a lot within a scan)
    _memo: dict[tuple[str, str, bool], Any] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def source_for(self, dotted: str, call: bool) -> SourceSpec | None:
        """The source a dotted attribute chain (or called name) is, if any."""
        key = ("source", dotted, call)
        if key not in self._memo:
            self._memo[key] = next(
                (s for s in self.sources if s.call == call and _matches(dotted, s.patterns)),
                None,
            )
        found: SourceSpec | None = self._memo[key]
        return found

    def sinks_for(self, callee: str, constructor: bool = False) -> list[SinkSpec]:
        """The sinks a called name is."""
        key = ("sink", callee, constructor)
        if key not in self._memo:
            self._memo[key] = [
                s
                for s in self.sinks
                if s.constructor == constructor and not s.items and _matches(callee, s.patterns)
            ]
        return list(self._memo[key])

    def item_sinks_for(self, container: str, item: str) -> list[SinkSpec]:
        """The sinks storing into `container[item]` is (`response['Location']`)."""
        return [
            s
            for s in self.sinks
            if item.lower() in (i.lower() for i in s.items) and _matches(container, s.patterns)
        ]

    def sanitiser_for(self, callee: str) -> SanitiserSpec | None:
        """The sanitiser or validator a called name is, if any; a name several
        validators list (`*.startswith`) checks for all their CWEs."""
        key = ("sanitiser", callee, False)
        if key not in self._memo:
            self._memo[key] = self._sanitiser_for(callee)
        found: SanitiserSpec | None = self._memo[key]
        return found

    def _sanitiser_for(self, callee: str) -> SanitiserSpec | None:
        found = [spec for spec in self.sanitisers if _matches(callee, spec.patterns)]
        if not found or not found[0].validator or len(found) == 1:
            return found[0] if found else None
        cwes = frozenset().union(*(spec.cwes for spec in found if spec.validator))
        return SanitiserSpec(found[0].patterns, cwes, found[0].label, validator=True)

    def propagator_for(self, callee: str) -> PropagatorSpec | None:
        """The copying call a name is, if any (`strcpy`, `memcpy`...)."""
        key = ("propagator", callee, False)
        if key not in self._memo:
            self._memo[key] = next(
                (p for p in self.propagators if _matches(callee, p.patterns)), None
            )
        found: PropagatorSpec | None = self._memo[key]
        return found

    def operator_sink(self, operator: str, operand: str) -> SinkSpec | None:
        """The sink an operator's operand is, if any."""
        for spec in self.operators:
            if spec.operand == operand and operator in spec.operators:
                return spec.sink
        return None

    def is_guarded(self, body: str) -> bool:
        """Whether a function body restricts its callers (`require(msg.sender == owner)`)."""
        return any(re.search(p, body) for p in self.guards)

    def is_handler(self, decorators: str, name: str, exported: bool) -> bool:
        """Whether a function's parameters come straight from an HTTP request."""
        if any(re.search(p, decorators) for p in self.handler_decorators):
            return True
        return exported and name in self.handler_names


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    # C++ `std::system` (dotted `std.system`) is the `system` a C pattern names
    if _regex(patterns).match(name) is not None:
        return True
    return name.startswith("std.") and _regex(patterns).match(name[4:]) is not None


@cache
def _regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled regex for a list of fnmatch globs."""
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns))


def has_spec(language: str) -> bool:
    """Whether the engine has a specification for `language`."""
    return language in _SPEC_FILE


@cache
def load_spec(language: str) -> LanguageSpec:
    """The specification of a language (TypeScript reads JavaScript's).

    Raises RulesError when the file is missing or malformed.
    """
    name = _SPEC_FILE.get(language)
    if name is None:
        raise RulesError(f"no data-flow specification for {language!r}")
    try:
        text = resources.files("vulnsight.dataflow").joinpath(f"specs/{name}.toml").read_text()
        data = tomllib.loads(text)
        return _build(language, data)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RulesError(f"bad data-flow specification {name}.toml: {exc}") from exc


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a string or a list of strings, got {value!r}")
    return tuple(value)


def _build(language: str, data: dict[str, Any]) -> LanguageSpec:
    sources = tuple(
        SourceSpec(
            patterns=_strings(s["pattern"]),
            label=str(s["label"]),
            call=bool(s.get("call", False)),
            confidence=float(s.get("confidence", 0.8)),
            cwes=frozenset(_strings(s.get("cwes", []))),
            out_args=tuple(int(a) for a in s.get("out_args", [])),
        )
        for s in data.get("source", [])
    )
    sinks = tuple(
        SinkSpec(
            id=str(s["id"]),
            patterns=_strings(s["pattern"]),
            cwe=str(s["cwe"]),
            label=str(s["label"]),
            args=tuple(int(a) for a in s.get("args", [])),
            keywords=_strings(s.get("keywords", [])),
            requires=str(s.get("requires", "")),
            unless=str(s.get("unless", "")),
            constructor=bool(s.get("constructor", False)),
            receiver=str(s.get("receiver", "")),
            stored=bool(s.get("stored", False)),
            items=_strings(s.get("items", [])),
        )
        for s in data.get("sink", [])
    )
    sanitisers = tuple(
        SanitiserSpec(
            patterns=_strings(s["pattern"]),
            cwes=frozenset(_strings(s["cwes"])),
            label=str(s["label"]),
            validator=bool(s.get("validator", False)),
        )
        for s in data.get("sanitiser", [])
    )
    handlers = data.get("handlers", {})
    propagators = tuple(
        PropagatorSpec(patterns=_strings(p["pattern"]), into=int(p.get("into", 0)))
        for p in data.get("propagator", [])
    )
    operators = tuple(
        OperatorSpec(
            operators=_strings(o["operators"]),
            operand=str(o["operand"]),
            sink=SinkSpec(id=str(o["id"]), patterns=(), cwe=str(o["cwe"]), label=str(o["label"])),
        )
        for o in data.get("operator", [])
    )
    checks = data.get("comparisons", {})
    casts = data.get("casts", {})
    return LanguageSpec(
        language=language,
        sources=sources,
        sinks=sinks,
        sanitisers=sanitisers,
        handler_decorators=_strings(handlers.get("decorators", [])),
        handler_names=_strings(handlers.get("exported_names", [])),
        propagators=propagators,
        operators=operators,
        comparison_cwes=frozenset(_strings(checks.get("cwes", []))),
        upper_bound_cwes=frozenset(_strings(checks.get("upper_bound_cwes", []))),
        nonzero_cwes=frozenset(_strings(checks.get("nonzero_cwes", []))),
        trivial_operands=_strings(checks.get("trivial_operands", [])),
        narrow_casts=_strings(casts.get("narrow", [])),
        narrow_cast_cwes=frozenset(_strings(casts.get("cwes", []))),
        integer_types=frozenset(_strings(data.get("integers", {}).get("types", []))),
        assertions=frozenset(_strings(checks.get("assertions", []))),
        entry_visibility=_strings(handlers.get("visibility", [])),
        guards=_strings(handlers.get("guards", [])),
        handler_label=str(handlers.get("label", "request parameter of a route handler")),
    )
