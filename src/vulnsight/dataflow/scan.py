"""The scan-level analysis: every function summarised once, findings with their paths.

`analyse(files, functions, graph)` parses each file of a supported language, finds the
tree node of every extracted function, and summarises functions on demand (a callee
before its caller; a recursive cycle sees an empty summary). Findings are source-to-sink
paths, reported once per sink location and CWE with the first path found.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from tree_sitter import Node

from vulnsight.dataflow.engine import FlowBudgetExceeded, FunctionAnalysis
from vulnsight.dataflow.facts import FunctionFacts, derive_facts
from vulnsight.dataflow.sol_contracts import Contract, ContractIndex
from vulnsight.dataflow.sol_state import StateAccess, is_state_write, stored_taints
from vulnsight.dataflow.spec import LanguageSpec, has_spec, load_spec
from vulnsight.dataflow.syntax import parameter_names
from vulnsight.dataflow.taint import EMPTY, SinkHit, Summary, Taint, Value, union
from vulnsight.errors import VulnsightError
from vulnsight.parse.callgraph import CallGraph, family, short_name
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
#: Steps (see `engine.MAX_VISITS`) all functions of one file may take together: without
#: it, a 1 MB file of functions each near the per-function budget takes minutes (the
#: largest file total seen in real code, sympy's solvers.py, is 105,000).
MAX_FILE_VISITS = 2_000_000
#: Solidity: passes that read back storage anyone can set (the first reads what the
#: first analysis stored; a second what was stored from storage, `b = a` across calls).
STATE_ROUNDS = 2
_FUNCTION_NODES = frozenset(
    {
        "function_definition", "function_declaration", "generator_function_declaration",
        "method_definition", "arrow_function", "function_expression", "function",
        "generator_function", "modifier_definition", "constructor_definition",
        "fallback_receive_definition",
    }
)  # fmt: skip


@dataclass(frozen=True)
class FlowResult:
    """Findings of one analysis, files it could not analyse, counters, and the facts of
    every function some fact touches (by `qualified_id`; `dataflow/facts.py`)."""

    findings: tuple[Finding, ...] = ()
    errors: tuple[ScanError, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    facts: Mapping[str, FunctionFacts] = field(default_factory=dict)


@dataclass
class _Parsed:
    source: SourceFile
    spec: LanguageSpec
    data: bytes
    root: Node
    nodes: dict[str, Node]  # qualified_id -> function node
    units: frozenset[int]  # start bytes of every function node that is its own unit


class _Scan:
    def __init__(
        self,
        files: Sequence[SourceFile],
        graph: CallGraph,
        earlier: _Scan | None = None,
        stored: dict[Contract, dict[str, Value]] | None = None,
    ) -> None:
        self.graph = graph
        self.stored = stored or {}  # Solidity: taints anyone can store, by contract
        self.family_stored: dict[int, dict[str, Value]] = {}
        self.parsed: dict[str, _Parsed] = {}
        self.errors: list[ScanError] = []
        self.summaries: dict[str, Summary] = {}
        self.running: set[str] = set()
        self.callees: dict[str, list[Function]] = {}  # the call graph's, by qualified id
        self.top_level: dict[tuple[str, str], set[str]] = {}  # (family, name) -> files
        self.shadow_memo: dict[tuple[str, str], bool] = {}
        self.hits: list[tuple[Function, SinkHit]] = []
        self.calls: dict[str, list[tuple[str, int, Taint]]] = {}  # tainted calls per caller
        self.entries: dict[str, list[tuple[int, Taint]]] = {}  # handlers' source parameters
        self.fields: dict[tuple[str, str], dict[str, Value]] = {}  # (file, class) -> fields
        self.analysed = 0
        self.spent: dict[str, int] = {}  # steps taken per file
        self.over_budget: dict[str, int] = {}  # functions left out per file
        by_file: dict[str, list[Function]] = {}
        for fn in graph.functions:
            by_file.setdefault(fn.file, []).append(fn)
        for source in files:
            if not has_spec(source.language):
                continue
            if earlier is not None:  # a second pass over storage reuses the parse
                if source.path in earlier.parsed:
                    self.parsed[source.path] = earlier.parsed[source.path]
                continue
            try:
                self.parsed[source.path] = _parse(source, by_file.get(source.path, []))
            except (VulnsightError, ValueError, RecursionError) as exc:
                self.errors.append(ScanError(source.path, f"data-flow: {exc}", DETECTOR))
        # Solidity: contracts across files, for inherited modifiers, guards and state
        self.contracts: ContractIndex = (
            earlier.contracts
            if earlier is not None
            else ContractIndex.build(
                (p.source.path, p.data, p.root)
                for p in self.parsed.values()
                if p.spec.entry_visibility
            )
        )

    def summary(self, fn: Function) -> Summary:
        """The summary of `fn`, analysing it the first time it is asked for."""
        key = fn.qualified_id
        done = self.summaries.get(key)
        if done is not None:
            return done
        if key in self.running:
            return EMPTY  # recursion: the cycle's inner call sees nothing
        if not self.running:
            self.running.add(key)  # a cycle back to `fn` sees nothing, as below
            try:
                self._callees_first(fn)
            finally:
                self.running.discard(key)
        parsed = self.parsed.get(fn.file)
        node = parsed.nodes.get(key) if parsed is not None else None
        if parsed is None or (node is None and fn.kind != "toplevel"):
            self.summaries[key] = EMPTY
            return EMPTY
        if self.spent.get(fn.file, 0) >= MAX_FILE_VISITS:
            self.over_budget[fn.file] = self.over_budget.get(fn.file, 0) + 1
            self.summaries[key] = EMPTY
            return EMPTY
        self.running.add(key)
        try:
            result = self.analyse(fn, parsed, node)
        except RecursionError:
            result = EMPTY
            self.errors.append(
                ScanError(fn.file, f"data-flow: {fn.name} is nested too deeply", DETECTOR)
            )
        except FlowBudgetExceeded as exc:
            result = EMPTY
            self.errors.append(ScanError(fn.file, f"data-flow: {exc}", DETECTOR))
        finally:
            self.running.discard(key)
        self.summaries[key] = result
        return result

    def _callees_of(self, fn: Function) -> list[Function]:
        key = fn.qualified_id
        found = self.callees.get(key)
        if found is None:
            found = self.callees[key] = self.graph.callees(fn)
        return found

    def _callees_first(self, fn: Function) -> None:
        """Summarise what `fn` reaches through the call graph bottom-up (an explicit
        depth-first post-order, callees before callers), so that summarising `fn` and
        each of them recurses one call deep at most (cycles aside): a chain of thousands
        of pass-through functions does not hit Python's recursion limit."""
        seen = {fn.qualified_id}
        order: list[Function] = []
        stack: list[tuple[Function, int]] = [(fn, 0)]
        while stack:
            top, at = stack[-1]
            below = self._callees_of(top)
            if at < len(below):
                stack[-1] = (top, at + 1)
                callee = below[at]
                key = callee.qualified_id
                if key not in seen and key not in self.summaries:
                    seen.add(key)
                    stack.append((callee, 0))
                continue
            stack.pop()
            if top is not fn:
                order.append(top)
        for callee in order:
            if callee.qualified_id not in self.summaries:
                self.summary(callee)

    def shadowed(self, fn: Function, parsed: _Parsed, callee: str) -> bool:
        """Whether `callee`, called in `fn`, names a function of the scanned tree rather
        than the library one a spec sanitiser means: `name` defined in the same file, or
        imported there from a scanned module, or (C) defined anywhere in the tree;
        `mod.name` where a scanned `mod.py`/`mod.js` (`mod/__init__.py`) defines `name`
        (a local `shlex.py` shadows the standard library's)."""
        key = (fn.file, callee)
        known = self.shadow_memo.get(key)
        if known is None:
            known = self.shadow_memo[key] = self._shadowed(fn, parsed, callee)
        return known

    def _shadowed(self, fn: Function, parsed: _Parsed, callee: str) -> bool:
        parts = re.split(r"\.|::|->", callee)
        if not self.top_level:
            for f in self.graph.functions:
                if f.kind == "function" and short_name(f) == f.name:
                    self.top_level.setdefault((family(f.language), f.name), set()).add(f.file)
        files = self.top_level.get((family(fn.language), parts[-1]), set())
        if not files:
            return False
        if len(parts) == 2:
            return parts[0] in {_module_name(f) for f in files}
        if len(parts) > 2:
            return False
        if fn.file in files or family(fn.language) == "c":
            return True
        modules = {_module_name(f) for f in files}
        name = re.escape(parts[0])
        for line in parsed.source.text.splitlines():
            importing = re.search(r"\b(?:import|require)\b", line)
            if (
                importing
                and re.search(rf"\b{name}\b", line)
                and modules & set(re.findall(r"\w+", line))
            ):
                return True
        return False

    def analyse(self, fn: Function, parsed: _Parsed, node: Node | None) -> Summary:
        self.analysed += 1
        by_name: dict[str, list[Function]] = {}
        for callee in self._callees_of(fn):
            by_name.setdefault(short_name(callee) or callee.name, []).append(callee)

        def resolve(leaf: str) -> list[tuple[str, Summary]]:
            return [(leaf, self.summary(c)) for c in by_name.get(leaf, ())]

        units = parsed.units - ({node.start_byte} if node is not None else set())
        owner = fn.name.rsplit(".", 1)[0] if fn.kind in ("method", "constructor") else fn.name
        fields = self.fields.setdefault((fn.file, owner), {})
        state = self._state(parsed, node) if parsed.spec.entry_visibility else None
        analysis = FunctionAnalysis(
            parsed.spec,
            parsed.data,
            fn.file,
            fn.name,
            resolve,
            units,
            fields,
            state,
            lambda callee: self.shadowed(fn, parsed, callee),
        )
        try:
            summary = self._run(analysis, fn, parsed, node)
        finally:
            self.spent[fn.file] = self.spent.get(fn.file, 0) + analysis.visits
        if analysis.facts.calls:
            self.calls[fn.qualified_id] = analysis.facts.calls
        return replace(summary, key=fn.qualified_id) if node is not None else summary

    def _state(self, parsed: _Parsed, node: Node | None) -> StateAccess | None:
        """Solidity: the storage a function sees, with what anyone could store there."""
        contract = self.contracts.owner_of(node, parsed.source.path) if node else None
        if contract is None:
            return None
        own = set(parameter_names(node, parsed.data)) if node is not None else set()
        body = node.child_by_field_name("body") if node is not None else None
        stack = [body] if body is not None else []
        while stack:  # locals shadow state variables
            current = stack.pop()
            if current.type == "variable_declaration":
                local = current.child_by_field_name("name")
                if local is not None:
                    own.add(
                        parsed.data[local.start_byte : local.end_byte].decode("utf-8", "replace")
                    )
            stack.extend(current.named_children)
        names = self.contracts.state_variables(contract) - own
        return StateAccess(frozenset(names), self._stored_for(contract))

    def _stored_for(self, contract: Contract) -> dict[str, Value]:
        """What its bases, itself and the contracts deriving from it had stored."""
        if not self.stored:
            return {}
        key = id(contract)
        if key not in self.family_stored:
            stored: dict[str, Value] = {}
            family = self.contracts.linearisation(contract) + self.contracts.derived(contract)
            for writer in family:
                for var, value in self.stored.get(writer, {}).items():
                    stored[var] = union(stored.get(var, ()), value)
            self.family_stored[key] = stored
        return self.family_stored[key]

    def storage(self) -> dict[Contract, dict[str, Value]]:
        """Solidity: what unrestricted public functions (not constructors) stored from
        their callers' data, by the contract they run in."""
        found: dict[Contract, dict[str, Value]] = {}
        for fn, hit in self.hits:
            if not is_state_write(hit) or hit.taint.param is not None:
                continue
            parsed = self.parsed.get(fn.file)
            node = parsed.nodes.get(fn.qualified_id) if parsed is not None else None
            if parsed is None or node is None or hit.taint.source != parsed.spec.handler_label:
                continue
            contract = self.contracts.owner_of(node, fn.file)
            if contract is None or fn.kind == "constructor" or short_name(fn) == contract.name:
                continue
            name, value = stored_taints(hit)
            into = found.setdefault(contract, {})
            into[name] = union(into.get(name, ()), value)
        return found

    def _run(
        self, analysis: FunctionAnalysis, fn: Function, parsed: _Parsed, node: Node | None
    ) -> Summary:
        if node is None:  # top-level code
            for child in parsed.root.named_children:
                analysis.run(child)
            self.hits.extend((fn, hit) for hit in analysis.facts.source_sinks)
            return EMPTY
        params = parameter_names(node, parsed.data)
        method = bool(params) and params[0] in ("self", "cls") and fn.kind != "function"
        handler = _is_handler(node, parsed, fn, self.contracts)
        line = node.start_point.row + 1
        for i, name in enumerate(params):
            if method and i == 0:
                continue
            entry = PathStep(fn.file, line, fn.name, f"parameter {name}")
            taints = [Taint(path=(entry,), param=i)]
            if handler:
                label = parsed.spec.handler_label
                taints.append(
                    Taint(
                        path=(
                            PathStep(fn.file, line, fn.name, f"source: parameter {name} ({label})"),
                        ),
                        source=label,
                    )
                )
                self.entries.setdefault(fn.qualified_id, []).append((i, taints[-1]))
            analysis.env[name] = tuple(taints)
        body = node.child_by_field_name("body")
        if body is not None:
            if body.type in ("block", "statement_block"):
                analysis.run(body)
            else:  # an arrow function's expression body is its return value
                value = analysis.expr(body)
                if value:
                    analysis.facts.returns.append(
                        tuple(t.then(analysis.step(body, "returned")) for t in value)
                    )
        self.hits.extend((fn, hit) for hit in analysis.facts.source_sinks)
        return Summary(
            params=tuple(params),
            returns=union(*analysis.facts.returns),
            sinks=tuple(_dedupe(analysis.facts.param_sinks)),
            method=method,
        )


def _dedupe(hits: list[SinkHit]) -> list[SinkHit]:
    seen: dict[tuple[int | None, str, str, int, frozenset[str]], SinkHit] = {}
    for hit in hits:
        key = (hit.taint.param, hit.sink.id, hit.step.file, hit.step.line, hit.taint.sanitised)
        seen.setdefault(key, hit)
    return list(seen.values())


def _parse(source: SourceFile, functions: list[Function]) -> _Parsed:
    grammar = grammar_name(source.language, source.path)
    tree, data = parse_text(source.text, grammar)
    found: list[Node] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in _FUNCTION_NODES:
            found.append(node)
        stack.extend(node.children)
    by_end: dict[int, list[Node]] = {}
    for node in found:
        by_end.setdefault(_end_line(node), []).append(node)
    nodes: dict[str, Node] = {}
    for fn in functions:
        if fn.kind == "toplevel":
            continue
        candidates = [
            n for n in by_end.get(fn.end_line, []) if n.start_point.row + 1 >= fn.start_line
        ]
        if candidates:
            nodes[fn.qualified_id] = min(candidates, key=lambda n: n.start_byte)
    return _Parsed(
        source=source,
        spec=load_spec(source.language),
        data=data,
        root=tree.root_node,
        nodes=nodes,
        units=frozenset(n.start_byte for n in nodes.values()),
    )


def _end_line(node: Node) -> int:
    end = node.end_point.row + 1
    if node.end_point.column == 0 and end > node.start_point.row + 1:
        end -= 1
    return end


def _is_handler(
    node: Node, parsed: _Parsed, fn: Function, contracts: ContractIndex | None = None
) -> bool:
    if parsed.spec.entry_visibility:
        return _is_entry(node, parsed, contracts)
    decorators = ""
    exported = False
    parent = node.parent
    if parent is not None and parent.type == "decorated_definition":
        decorators = "\n".join(
            parsed.data[c.start_byte : c.end_byte].decode("utf-8", "replace")
            for c in parent.named_children
            if c.type == "decorator"
        )
    ancestor: Node | None = node
    for _ in range(4):
        if ancestor is None:
            break
        if ancestor.type == "export_statement":
            exported = True
            break
        ancestor = ancestor.parent
    return parsed.spec.is_handler(decorators, short_name(fn) or "", exported)


def _is_entry(node: Node, parsed: _Parsed, contracts: ContractIndex | None = None) -> bool:
    """Solidity: a public or external function no modifier or guard restricts (its
    modifiers and the helpers it calls resolved through the inheritance chain)."""
    visibility = next((c for c in node.children if c.type == "visibility"), None)
    if visibility is None:
        return False
    seen = parsed.data[visibility.start_byte : visibility.end_byte].decode("utf-8", "replace")
    if seen.strip() not in parsed.spec.entry_visibility:
        return False
    if contracts is not None:
        guarded = contracts.guarded(node, parsed.source.path, parsed.spec.is_guarded)
        if guarded is not None:
            return not guarded
    if any(c.type == "modifier_invocation" for c in node.children):
        return False
    body = node.child_by_field_name("body")
    text = parsed.data[body.start_byte : body.end_byte] if body is not None else b""
    return not parsed.spec.is_guarded(text.decode("utf-8", "replace"))


def _module_name(path: str) -> str:
    """The name code imports `path` by: `a/shlex.py` -> shlex, `pkg/__init__.py` -> pkg."""
    parts = path.replace("\\", "/").split("/")
    stem = parts[-1].split(".", 1)[0]
    if stem in ("__init__", "index") and len(parts) > 1:
        return parts[-2]
    return stem


def analyse(
    files: Sequence[SourceFile], functions: Sequence[Function], graph: CallGraph
) -> FlowResult:
    """Source-to-sink findings in `functions` (their callees are summarised as needed).

    `graph` holds every function of the scan (context included); `files` the source
    files whose functions can be analysed (others are treated as unknown library code).
    """
    scan = _Scan(files, graph)
    for fn in functions:
        if fn.file in scan.parsed:
            scan.summary(fn)
    hits, summaries, analysed = list(scan.hits), dict(scan.summaries), scan.analysed
    calls, entries = dict(scan.calls), dict(scan.entries)
    stored = scan.storage()
    for _round in range(STATE_ROUNDS):  # Solidity: read back what anyone could store
        if not stored:
            break
        again = _Scan(files, graph, earlier=scan, stored=stored)
        contracts = {p.source.path for p in again.parsed.values() if p.spec.entry_visibility}
        for fn in functions:
            if fn.file in contracts:
                again.summary(fn)
        hits = [(fn, h) for fn, h in hits if fn.file not in contracts] + again.hits
        summaries.update(again.summaries)
        calls.update(again.calls)
        entries.update(again.entries)
        analysed += again.analysed
        more = again.storage()
        known = {(c, n) for c, names in stored.items() for n in names}
        if all((c, n) in known for c, names in more.items() for n in names):
            break
        for contract, names in more.items():
            into = stored.setdefault(contract, {})
            for name, value in names.items():
                into[name] = union(into.get(name, ()), value)
        scan = again
    writes = [(fn, h) for fn, h in hits if is_state_write(h)]
    hits = [(fn, h) for fn, h in hits if not is_state_write(h)]
    findings: dict[tuple[str, int, str], Finding] = {}
    lines_of: dict[str, list[str]] = {}  # each file split once, however many findings
    for _fn, hit in hits:
        finding = _finding(hit, scan.parsed, lines_of)
        key = (finding.file, finding.line_number, finding.cwe)
        if key not in findings or len(finding.path) < len(findings[key].path):
            findings[key] = finding
    ordered = sorted(findings.values(), key=lambda f: (f.file, f.line_number, f.cwe))
    errors = list(scan.errors)
    for file, count in sorted(scan.over_budget.items()):
        reason = f"data-flow: {count} function(s) not followed (over the file's step budget)"
        errors.append(ScanError(file, reason, DETECTOR))
    stats = {"flow_functions_analysed": analysed, "flow_findings": len(ordered)}
    if writes:
        stats["flow_state_writes"] = len(writes)
        summaries = {  # storage writes are no sinks for the model's facts
            k: replace(v, sinks=tuple(h for h in v.sinks if not is_state_write(h)))
            for k, v in summaries.items()
        }
    summarised = [fn for fn in graph.functions if fn.qualified_id in summaries]
    facts = derive_facts(summarised, summaries, calls, entries, hits, graph.callees)
    stats["flow_functions_with_facts"] = sum(1 for f in facts.values() if not f.empty)
    return FlowResult(tuple(ordered), tuple(errors), stats, facts)


def lazy_analysis(
    files: Sequence[SourceFile], functions: Sequence[Function], graph: CallGraph
) -> Callable[[], FlowResult]:
    """`analyse(files, functions, graph)` run on the first call only (thread-safe), so
    the flow detector, the model's gate and context, and the verdict cache share one."""
    lock = threading.Lock()
    done: list[FlowResult] = []

    def get() -> FlowResult:
        with lock:
            if not done:
                done.append(analyse(files, functions, graph))
            return done[0]

    return get


_WS = re.compile(r"\s+")


def _finding(
    hit: SinkHit, parsed: dict[str, _Parsed], lines_of: dict[str, list[str]] | None = None
) -> Finding:
    sink_step = hit.step
    path = (*hit.taint.path, sink_step)
    # through storage: the finding is where anyone's data was stored (the setter to fix)
    step = hit.taint.stored_at or sink_step
    lines_of = {} if lines_of is None else lines_of
    if step.file not in lines_of:
        known = step.file in parsed
        lines_of[step.file] = parsed[step.file].source.text.split("\n") if known else []
    lines = lines_of[step.file]
    snippet = lines[step.line - 1].strip() if 0 < step.line <= len(lines) else ""
    language = parsed[step.file].spec.language if step.file in parsed else "python"
    family = {"typescript": "javascript", "cpp": "c"}.get(language, language)
    rule = f"vulnsight.flow.{family}.{hit.sink.id}"
    origin = path[0]
    message = (
        f"{hit.taint.source or 'untrusted data'} from {origin.file}:{origin.line} reaches "
        f"{hit.sink.label} ({hit.sink.cwe}) in {len(path)} steps"
    )
    if hit.taint.stored_at is not None:
        message = (
            f"{hit.taint.source or 'untrusted data'} from {origin.file}:{origin.line} is "
            f"stored in a state variable by a function anyone can call, and a later "
            f"transaction hands it to {hit.sink.label} ({hit.sink.cwe}) in "
            f"{sink_step.function} at {sink_step.file}:{sink_step.line}"
        )
    return Finding(
        file=step.file,
        line_number=step.line,
        cwe=hit.sink.cwe,
        message=_WS.sub(" ", message),
        detector=DETECTOR,
        confidence=hit.taint.confidence,
        severity=Severity.HIGH if hit.taint.confidence >= 0.7 else Severity.MEDIUM,
        function=step.function,
        rule_id=rule,
        snippet=snippet,
        detectors=(DETECTOR,),
        fingerprint=fingerprint(rule, step.file, step.function, snippet),
        path=path,
    )
