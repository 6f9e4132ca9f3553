"""The model gate: which functions need a model verdict at all.

Prompt evaluation is the scan's cost, so a cheap, pure pass decides first. A function
is sent to the model when it was changed (a `--diff` scan selects it), when a rule hit
lies inside it, when it calls a risky API of its language (a sink, an untrusted-data
source, memory or process management: `gate_sinks.toml`, plus every call name the rule
pack's patterns mention), when a function it calls in the scanned tree does (up to
`depth` calls away), or when its code shows a risky construct (a write through a
computed index, `innerHTML`, `tx.origin`...), or when it is top-level code that calls
anything; and, whatever the mode, when data-flow facts touch it (a parameter receives
untrusted data, or its data reaches a sink: `dataflow/facts.py`). Every other function
is judged "not flagged" without the model; those with no calls and a tiny body are
reported as trivial (accessors, pure arithmetic). The `flow` mode (benchmarks only)
judges only changed functions, rule hits and functions data-flow facts touch (in
languages the data-flow engine covers; elsewhere it acts as `sinks`).

Everything here is pure; the data files are read once, lazily.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from vulnsight.dataflow.facts import FunctionFacts
from vulnsight.dataflow.spec import has_spec
from vulnsight.parse.callgraph import CallGraph
from vulnsight.parse.comments import strip_comments
from vulnsight.types import Function

#: Gate modes: "safe" follows each language's policy; "sinks" judges only risky
#: functions in every language (faster, and it costs recall in C/C++: see RESULTS.md);
#: "off" judges everything. "flow" (only functions data-flow facts touch) is measured
#: by benchmarks/gate_recall.py but not offered to scans: it lost 30 of the model's 65
#: true positives on its test split (benchmarks/RESULTS.md).
MODES = ("safe", "lean", "sinks", "flow", "off")

#: "lean" judges what "sinks" judges plus every function whose code shows a construct one
#: of its language's weakness classes needs (`weakness` in gate_sinks.toml: a subscript,
#: `->`, a dereference, arithmetic, a division, an uninitialised declaration in C/C++; a
#: computed property, a regular expression, a secret comparison, a URL... in JS), so it
#: sits between "safe" (all non-trivial C/C++/JS) and "sinks" (benchmarks/RESULTS.md).

#: Body lines (after comment stripping, blank lines dropped) at or under which a
#: function that calls nothing is trivial.
TRIVIAL_LINES = 6

# Reasons, in the order they are checked.
CHANGED, RULE_HIT, SINK, REACHES, CONSTRUCT = "changed", "rule-hit", "sink", "reaches", "construct"
FLOW, TOPLEVEL, NON_TRIVIAL = "flow", "toplevel", "non-trivial"
WEAKNESS = "weakness"
TRIVIAL, NO_RISK, NO_FLOW = "trivial", "no-risk", "no-flow"

_CALL_IN_PATTERN = re.compile(r"(?<![$\w])([A-Za-z_]\w*)\s*\(")
_KEYWORD_CALL = re.compile(r"^(if|for|while|switch|return|catch|sizeof)\s*\((?!.*[\w$\]\)]\s*\()")
_KEYWORDS = frozenset({"if", "for", "while", "switch", "return", "sizeof", "catch", "function"})


@dataclass(frozen=True)
class Decision:
    """Whether the model judges a function, and why (`detail` names the API or callee)."""

    judge: bool
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class LanguageSpec:
    """The risky call names and construct patterns of one language."""

    calls: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    #: call names matching one of these are risky too (`run_interactively`, `execQuery`)
    call_names: re.Pattern[str] | None = None
    #: "sinks": only risky functions are judged; "non-trivial": every function but the
    #: trivial ones (for languages whose weaknesses need no risky call: C's integer
    #: overflows, NULL dereferences, uninitialised reads)
    policy: str = "sinks"
    #: constructs a weakness class of the language needs (the "lean" mode judges them)
    weakness: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class GateSpec:
    """Risky APIs per language; a language without a spec is always judged."""

    languages: Mapping[str, LanguageSpec]

    def for_language(self, language: str) -> LanguageSpec | None:
        """The spec of `language`, if the gate knows it."""
        return self.languages.get(language)


def rule_pack_calls(texts: Iterable[str]) -> dict[str, set[str]]:
    """Call names the rule pack's patterns mention, per language (`$X.exec(...)` -> exec)."""
    import yaml

    found: dict[str, set[str]] = {}
    for text in texts:
        for rule in (yaml.safe_load(text) or {}).get("rules", []):
            names = {
                m.group(1)
                for pattern in _pattern_strings(rule)
                for m in _CALL_IN_PATTERN.finditer(pattern)
                if m.group(1) not in _KEYWORDS
            }
            for language in rule.get("languages", []):
                found.setdefault(str(language), set()).update(names)
    return found


def _pattern_strings(node: object) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str) or "not" in key or "sanitizer" in key:
                continue  # what a rule excludes or accepts as clean is no sink
            if key.startswith("pattern") and isinstance(value, str):
                yield value
            else:
                yield from _pattern_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _pattern_strings(item)


def parse_spec(toml_text: str, extra_calls: Mapping[str, Collection[str]] = {}) -> GateSpec:
    """A `GateSpec` from the TOML data (see gate_sinks.toml) plus extra call names."""
    raw = tomllib.loads(toml_text)
    languages: dict[str, LanguageSpec] = {}
    for language, entry in raw.items():
        base = raw.get(entry.get("extends", ""), {}) if "extends" in entry else {}
        calls = set(base.get("calls", [])) | set(entry.get("calls", []))
        calls |= set(extra_calls.get(language, ()))
        pats = [*base.get("patterns", []), *entry.get("patterns", [])]
        names = [*base.get("call_names", []), *entry.get("call_names", [])]
        weak = [*base.get("weakness", []), *entry.get("weakness", [])]
        languages[language] = LanguageSpec(
            calls=frozenset(calls),
            patterns=tuple(re.compile(p) for p in pats),
            call_names=re.compile("|".join(f"(?:{n})" for n in names), re.I) if names else None,
            policy=str(entry.get("policy", base.get("policy", "sinks"))),
            weakness=tuple(re.compile(p, re.M) for p in weak),
        )
    return GateSpec(languages)


@cache
def default_spec() -> GateSpec:
    """The shipped spec: gate_sinks.toml plus the rule pack's call names."""
    from vulnsight.rules.engine import pack_files

    data = files("vulnsight.detectors").joinpath("gate_sinks.toml").read_text("utf-8")
    pack = rule_pack_calls(p.read_text("utf-8") for p in pack_files())
    return parse_spec(data, pack)


def _code_lines(fn: Function) -> list[str]:
    stripped = strip_comments(fn.code, fn.language, fn.file)
    return [line for line in stripped.splitlines() if line.strip()]


def _body(fn: Function) -> str:
    """`fn`'s comment-stripped code; in C/C++ after its signature (from the first `{`
    that ends a line among the first ones): a pointer parameter is not a dereference."""
    code = "\n".join(_code_lines(fn))
    if fn.kind == "toplevel" or fn.language not in ("c", "cpp"):
        return code
    brace = re.search(r"\{\s*$", code, re.M)
    if brace is None or code.count("\n", 0, brace.start()) >= 8:
        return code
    return code[brace.end() :]


@cache
def _calls_in_text(spec: LanguageSpec) -> re.Pattern[str]:
    """A risky call name followed by `(` anywhere in the text (`new Function(...)`, or a
    call in a fragment the parse did not see whole)."""
    names = "|".join(re.escape(n) for n in sorted(spec.calls, key=len, reverse=True))
    return re.compile(rf"(?<![\w$])({names})\s*(<[^;(){{}}]*>)?\s*\(")


_CALL_SYNTAX = re.compile(r"[\w$\]\)]\s*\(|\bnew\b")


def is_trivial(fn: Function) -> bool:
    """No calls out and a tiny body: an accessor, a constant, pure arithmetic.

    Calls are checked twice, in the parse (`fn.calls`) and in the text after the first
    line (fragments that do not parse cleanly can hide a call from the parse); a unit
    with unbalanced brackets is a cut-off fragment and never trivial.
    """
    if fn.calls:
        return False
    lines = _code_lines(fn)
    if len(lines) > TRIVIAL_LINES:
        return False
    text = "\n".join(lines)
    if text.count("{") != text.count("}") or text.count("(") != text.count(")"):
        return False  # a cut-off fragment: what it holds is not known
    body = [*lines[1:]] if fn.kind != "toplevel" else lines
    return not any(
        _CALL_SYNTAX.search(line) and not _KEYWORD_CALL.match(line.strip()) for line in body
    )


def flow_detail(facts: FunctionFacts | None) -> str:
    """Why data flow makes a function worth judging ("" when it does not): a sink that
    untrusted data reaches through it, or a parameter tainted by a source that counts
    for every weakness (a local source, argv or the environment, counts for code
    execution only, and those sinks are then reached). A sink reached only from the
    function's own parameters does not force a verdict by itself (`n * 2` reaches the
    multiplication sink) unless a caller taints that parameter: the sink and reach checks
    after it judge such functions."""
    if facts is None:
        return ""
    tainted_params = {f"parameter {t.name}" for t in facts.tainted}
    sourced = next(
        (s for s in facts.sinks if not s.via.startswith("parameter ") or s.via in tainted_params),
        None,
    )
    if sourced is not None:
        return f"reaches {sourced.cwe}"
    tainted = next((t for t in facts.tainted if not t.only), None)
    return f"tainted parameter {tainted.name}" if tainted is not None else ""


class Gate:
    """Decides, per function, whether the model must judge it (see the module doc)."""

    def __init__(
        self,
        graph: CallGraph,
        spec: GateSpec | None = None,
        depth: int = 2,
        mode: str = "safe",
        facts: Mapping[str, FunctionFacts] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown gate mode {mode!r}; choose from {', '.join(MODES)}")
        self.graph = graph
        self.spec = spec if spec is not None else default_spec()
        self.depth = depth
        self.mode = mode
        self.facts = facts or {}
        self._risky: dict[str, str | None] = {}

    def decide(
        self, fn: Function, rule_lines: Collection[int] = (), changed: bool = False
    ) -> Decision:
        """The decision for `fn`; `rule_lines` are file lines of rule hits in its file."""
        spec = self.spec.for_language(fn.language)
        if spec is None or self.mode == "off":
            return Decision(True, "unknown-language" if spec is None else "gate-off")
        if changed:
            return Decision(True, CHANGED)
        if any(fn.start_line <= line <= fn.end_line for line in rule_lines):
            return Decision(True, RULE_HIT)
        touched = flow_detail(self.facts.get(fn.qualified_id))
        if touched:
            return Decision(True, FLOW, touched)
        if self.mode == "flow" and has_spec(fn.language):
            return Decision(False, NO_FLOW)
        own = self._own_risk(fn, spec)
        if own is not None:
            kind, detail = own
            return Decision(True, kind, detail)
        reached = self._reaches(fn)
        if reached is not None:
            return Decision(True, REACHES, reached)
        if fn.kind == "toplevel" and fn.calls:
            # code outside any function (scripts, fragments) has no callers to lean on
            return Decision(True, TOPLEVEL, fn.calls[0])
        if is_trivial(fn):
            return Decision(False, TRIVIAL)
        if spec.policy == "non-trivial" and self.mode == "safe":
            return Decision(True, NON_TRIVIAL)
        if self.mode == "lean" and spec.weakness:
            code = _body(fn)
            m = _calls_in_text(spec).search(code) if spec.calls else None
            if m:
                return Decision(True, WEAKNESS, m.group(1))
            for pattern in spec.weakness:
                m = pattern.search(code)
                if m:
                    return Decision(True, WEAKNESS, m.group(0).strip()[:40])
        return Decision(False, NO_RISK)

    def risky_lines(
        self, fn: Function, rule_lines: Collection[int] = (), with_reaches: bool = True
    ) -> set[int]:
        """File lines of `fn` a reviewer would look at first: a call of a risky API (or,
        with `with_reaches`, of a function in the tree that reaches one), a risky
        construct, a rule hit, a step of a data-flow path. The model's windows over a
        long function are cut around them (`context.build_context`'s `focus`)."""
        spec = self.spec.for_language(fn.language)
        found = {line for line in rule_lines if fn.start_line <= line <= fn.end_line}
        facts = self.facts.get(fn.qualified_id)
        if facts is not None:
            steps = [
                *(s for t in facts.tainted for s in t.path),
                *(s for k in facts.sinks for s in k.path),
            ]
            found |= {
                s.line
                for s in steps
                if s.file == fn.file and fn.start_line <= s.line <= fn.end_line
            }
        if spec is None:
            return found
        risky = {name for name in fn.calls if name in spec.calls}
        if spec.call_names is not None:
            risky |= {name for name in fn.calls if spec.call_names.search(name)}
        if with_reaches:
            risky |= {
                callee.name.rsplit(".", 1)[-1]
                for callee in self.graph.callees(fn)
                if self._risky_name(callee) is not None
            }
        calls = (
            re.compile(
                r"(?<![\w$])("
                + "|".join(re.escape(n.rsplit(".", 1)[-1]) for n in sorted(risky))
                + r")\s*(<[^;(){}]*>)?\s*\("
            )
            if risky
            else None
        )
        stripped = strip_comments(fn.code, fn.language, fn.file).split("\n")
        for offset, line in enumerate(stripped):
            if (calls is not None and calls.search(line)) or any(
                p.search(line) for p in spec.patterns
            ):
                found.add(fn.start_line + offset)
        return found

    def _own_risk(self, fn: Function, spec: LanguageSpec) -> tuple[str, str] | None:
        call = next((name for name in fn.calls if name in spec.calls), None)
        if call is None and spec.call_names is not None:
            call = next((name for name in fn.calls if spec.call_names.search(name)), None)
        if call is not None:
            return SINK, call
        if spec.patterns:
            code = "\n".join(_code_lines(fn))
            for pattern in spec.patterns:
                m = pattern.search(code)
                if m:
                    return CONSTRUCT, m.group(0).strip()[:40]
        return None

    def _risky_name(self, fn: Function) -> str | None:
        """`fn`'s own risky call or construct, memoised per function."""
        key = fn.qualified_id
        if key not in self._risky:
            spec = self.spec.for_language(fn.language)
            own = self._own_risk(fn, spec) if spec is not None else None
            self._risky[key] = own[1] if own else None
        return self._risky[key]

    def _reaches(self, fn: Function) -> str | None:
        """`callee -> api` when a function within `depth` calls is risky on its own."""
        frontier, seen = [fn], {fn.qualified_id}
        for _ in range(self.depth):
            nxt: list[Function] = []
            for current in frontier:
                for callee in self.graph.callees(current):
                    if callee.qualified_id in seen:
                        continue
                    seen.add(callee.qualified_id)
                    risky = self._risky_name(callee)
                    if risky is not None:
                        return f"{callee.name} -> {risky}"
                    nxt.append(callee)
            frontier = nxt
        return None
