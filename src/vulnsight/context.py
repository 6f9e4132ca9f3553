"""The model's view of one function: its numbered lines plus callees and callers.

Everything here is pure. Comments are stripped and string literals neutralised first
(scanned code may try to talk to the model; `parse/literals.py`), then the target's
lines are numbered with their file line so the model can answer with a line of the
file; callee signatures and immediate callers follow while the token budget allows.
Callers and callees are context only: a caller is shown as its signature and the few
lines around its call of the target.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from vulnsight.dataflow.facts import FunctionFacts
from vulnsight.parse.callgraph import CallGraph, short_name
from vulnsight.parse.comments import strip_comments
from vulnsight.parse.literals import neutralise_literals
from vulnsight.types import Function, PathStep

#: Lines kept on each side of the call site in a caller: callers are context only, and
#: whole callers used to fill the token budget (they dominated the p95 prompt length).
CALLER_WINDOW = 3

#: Which functions are shown with their callers: "all"; "facts", only those whose
#: parameters data flow taints (the callers show where the data enters); "none"; "alone":
#: no callers and no callee signatures either, the one-function view the shipped model
#: was trained on (`train/data.py`).
CALLER_POLICIES = ("all", "facts", "none", "alone")

#: Lines kept on each side of a focus line when a long function is shown as windows.
FOCUS_WINDOW = 8

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Context:
    """What the model sees for one function.

    `line_map[i]` is the file line of line i (0-based) of `text`, or 0 for a line that
    is not code of the target function. `target_first_line` is the file line of the
    first target line shown. `truncated` is set when the target itself did not fit.
    """

    text: str
    line_map: tuple[int, ...]
    target_first_line: int
    truncated: bool
    tokens: int
    #: the data-flow facts of the function (None: no analysis ran or nothing touches it)
    facts: FunctionFacts | None = None
    #: `facts` as the prompt shows them (`render_facts`); "" when they are not shown
    facts_text: str = ""
    #: the target was shown as windows around its focus lines (`build_context`)
    windowed: bool = False


def callers_for(policy: str, max_callers: int, facts: FunctionFacts | None) -> int:
    """How many callers `build_context` may show under a caller `policy`."""
    if policy not in CALLER_POLICIES:
        raise ValueError(f"unknown caller policy {policy!r}; choose from {CALLER_POLICIES}")
    if policy in ("none", "alone") or (policy == "facts" and (facts is None or not facts.tainted)):
        return 0
    return max_callers


def focus_windows(
    numbers: list[int], focus: Collection[int], width: int = FOCUS_WINDOW
) -> list[bool]:
    """Which of the target's lines (their file `numbers`) a windowed view keeps: those
    within `width` lines of a focus line, and the first line (the signature)."""
    wanted = sorted(set(focus))
    keep: list[bool] = []
    for i, number in enumerate(numbers):
        near = any(abs(number - f) <= width for f in wanted)
        keep.append(i == 0 or near)
    return keep


def approx_tokens(text: str) -> int:
    """A cheap token estimate: about 3.5 characters per token."""
    return math.ceil(len(text) / 3.5)


def build_context(
    fn: Function,
    graph: CallGraph,
    budget_tokens: int = 8192,
    count_tokens: Callable[[str], int] = approx_tokens,
    max_callers: int = 3,
    number_every: int = 1,
    facts: FunctionFacts | None = None,
    show_facts: bool = False,
    focus: Collection[int] = (),
    window_over: int = 0,
    callees: bool = True,
) -> Context:
    """Build the model's view of `fn` within `budget_tokens` (measured by `count_tokens`).

    Target lines come first as ``"{n}| {line}"`` (with `number_every` > 1 only every
    that many lines carry their number: an experiment, see benchmarks/RESULTS.md; the
    shipped model was trained with every line numbered); if they alone exceed the budget the
    first lines that fit are kept and `truncated` is set. Then callee signatures under
    a ``// callees:`` header (``#`` for Python), then up to `max_callers` callers, each
    under ``// caller: <name> (<file>)`` as its signature and the `CALLER_WINDOW` lines
    on each side of its first call of the target (fewer when that does not fit; left
    out when even the call line does not fit).

    `facts` are kept on the context; with `show_facts` they are also rendered
    (`render_facts`) for the prompt, and their tokens come off the budget first.

    Without `callees` the callee signatures are left out (with `max_callers` 0 the
    model then sees the function alone, as the shipped model was trained: `train/data.py`).

    With `window_over` > 0, a target whose numbered lines exceed that many tokens and
    that has `focus` lines (file lines: risky calls, rule hits, data-flow steps) is shown
    as windows of `FOCUS_WINDOW` lines around them (`focus_windows`), each gap a `...`
    line; the lines shown keep their file numbers, so a verdict's line stays exact.
    """
    facts_text = render_facts(facts, fn) if show_facts and facts is not None else ""
    if facts_text:
        budget_tokens = max(1, budget_tokens - count_tokens(facts_text))
    mark = "#" if fn.language == "python" else "//"
    target = _tidy(list(enumerate(_stripped(fn), start=fn.start_line)))
    lines = [
        f"{number}| {text}".rstrip() if i % number_every == 0 else text
        for i, (number, text) in enumerate(target)
    ]
    line_map = [number for number, _ in target]
    windowed = False
    if window_over > 0 and focus and count_tokens("\n".join(lines)) > window_over:
        shown = focus_windows(line_map, focus)
        if not all(shown):
            windowed = True
            lines, line_map = _windows(lines, line_map, shown, f"{mark} ...")
    truncated = False
    if count_tokens("\n".join(lines)) > budget_tokens:
        truncated = True
        marker = f"{mark} ... truncated"
        keep = _longest_prefix(lines, marker, budget_tokens, count_tokens)
        lines = [*lines[:keep], marker]
        line_map = [*line_map[:keep], 0]
        if count_tokens("\n".join(lines)) > budget_tokens:
            lines, line_map = lines[:keep], line_map[:keep]

    def fits(extra: list[str]) -> bool:
        return count_tokens("\n".join([*lines, *extra])) <= budget_tokens

    if not truncated:
        signatures = _callee_signatures(fn, graph) if callees else []
        block = [f"{mark} callees:"]
        for signature in signatures:
            if fits([*block, signature]):
                block.append(signature)
        if len(block) > 1:
            lines.extend(block)
            line_map.extend([0] * len(block))
        for caller in graph.callers(fn)[:max_callers]:
            for candidate in _caller_blocks(caller, fn, mark):
                if fits(candidate):
                    lines.extend(candidate)
                    line_map.extend([0] * len(candidate))
                    break
    text = "\n".join(lines)
    first = target[0][0] if target else fn.start_line
    tokens = count_tokens(text) + (count_tokens(facts_text) if facts_text else 0)
    return Context(text, tuple(line_map), first, truncated, tokens, facts, facts_text, windowed)


def _windows(
    lines: list[str], line_map: list[int], keep: list[bool], gap: str
) -> tuple[list[str], list[int]]:
    """The kept lines, each run of dropped ones replaced by one `gap` line (mapped to 0)."""
    out: list[str] = []
    mapped: list[int] = []
    for line, number, kept in zip(lines, line_map, keep, strict=True):
        if kept:
            out.append(line)
            mapped.append(number)
        elif not out or out[-1] != gap:
            out.append(gap)
            mapped.append(0)
    return out, mapped


#: Characters a name in the facts block keeps (scanned code chose the names: no spaces,
#: quotes or brackets reach the model through them); others become `_`.
_NAME_UNSAFE = re.compile(r"[^\w.$:/-]")
#: Function hops shown of a path (the first and the last ones).
FACT_HOPS = 4


def _name(text: str, limit: int = 48) -> str:
    from vulnsight.textsafe import safe_text

    clean = _NAME_UNSAFE.sub("_", safe_text(text))
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _hops(path: tuple[PathStep, ...], fn: Function) -> str:
    hops: list[str] = []
    for step in path:
        where = (
            step.function
            if step.file == fn.file
            else f"{os.path.basename(step.file)}:{step.function}"
        )
        name = _name(where)
        if not hops or hops[-1] != name:
            hops.append(name)
    if len(hops) > FACT_HOPS:
        hops = [*hops[:1], "...", *hops[-(FACT_HOPS - 1) :]]
    return " -> ".join(hops)


def _where(step: PathStep, fn: Function) -> str:
    if step.file == fn.file and fn.start_line <= step.line <= fn.end_line:
        return f"line {step.line}"
    return f"{_name(os.path.basename(step.file))}:{step.line} in {_name(step.function)}"


def render_facts(facts: FunctionFacts, fn: Function) -> str:
    """A short, fixed-format block of the data-flow facts for the prompt ("" if none).

    Facts come from hostile code: only the engine's own vocabulary (source and sink
    labels, CWE ids) is shown as written; function, parameter and file names keep word
    characters and `.$:/-` only (`_NAME_UNSAFE`), and no code text of the path steps is
    shown at all, only which functions the data passes through."""
    lines: list[str] = []
    for t in facts.tainted:
        via = _hops(t.path, fn)
        cleaned = f"; checked for {', '.join(t.sanitised)}" if t.sanitised else ""
        lines.append(f"- parameter {_name(t.name)} receives {t.source} (via {via}){cleaned}")
    for s in facts.sinks:
        via = s.via
        if via.startswith("parameter "):
            via = f"parameter {_name(via.removeprefix('parameter '))}"
        end = s.path[-1] if s.path else None
        at = f" at {_where(end, fn)}" if end is not None else ""
        lines.append(f"- {via} reaches {s.sink} ({s.cwe}){at} (via {_hops(s.path, fn)})")
    for label in facts.returns:
        lines.append(f"- returns {label}")
    if not lines:
        return ""
    return "\n".join(["data flow found by static analysis (may be incomplete):", *lines])


def _stripped(fn: Function) -> list[str]:
    clean = strip_comments(fn.code, fn.language, fn.file)
    return neutralise_literals(clean, fn.language, fn.file).split("\n")


def _tidy(numbered: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop trailing whitespace, blank runs (kept as one blank line) and common indent."""
    out: list[tuple[int, str]] = []
    for number, text in numbered:
        text = text.rstrip()
        if not text and (not out or not out[-1][1]):
            continue
        out.append((number, text))
    while out and not out[-1][1]:
        out.pop()
    indents = [text[: len(text) - len(text.lstrip())] for _, text in out if text]
    cut = len(os.path.commonprefix(indents)) if indents else 0
    return [(number, text[cut:]) for number, text in out]


def _longest_prefix(
    lines: list[str], marker: str, budget: int, count_tokens: Callable[[str], int]
) -> int:
    """The most leading lines that fit in `budget` together with `marker`."""
    low, high = 0, len(lines)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens("\n".join([*lines[:middle], marker])) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _callee_signatures(fn: Function, graph: CallGraph) -> list[str]:
    signatures: dict[str, None] = {}
    for callee in graph.callees(fn):
        if not callee.signature:
            continue
        clean = strip_comments(callee.signature, callee.language, callee.file)
        clean = neutralise_literals(clean, callee.language, callee.file)
        signature = _WS.sub(" ", clean).strip()
        if signature:
            signatures[signature] = None
    return list(signatures)


def _caller_blocks(caller: Function, target: Function, mark: str) -> list[list[str]]:
    """`caller` as signature plus call-site window, widest first; [] when no call is seen.

    The window is cut from the caller's comment-stripped lines, so the call line is
    shown as written; `...` marks the lines left out.
    """
    header = f"{mark} caller: {caller.name} ({caller.file})"
    name = short_name(target)
    if name is None:
        return []
    body = [text for _, text in _tidy(list(enumerate(_stripped(caller))))]
    call = re.compile(rf"\b{re.escape(name)}\s*\(")
    site = next((i for i, text in enumerate(body) if call.search(text)), None)
    if site is None:
        return []
    clean = strip_comments(caller.signature, caller.language, caller.file)
    signature = _WS.sub(" ", clean).strip()
    blocks: list[list[str]] = []
    for width in dict.fromkeys((CALLER_WINDOW, 1, 0)):
        low, high = max(0, site - width), min(len(body), site + width + 1)
        window = body[low:high]
        if low == 1:
            window = [body[0], *window]
        elif low > 1:
            window = [signature or body[0], f"{mark} ...", *window]
        if high < len(body):
            window.append(f"{mark} ...")
        blocks.append([header, *window])
    return blocks
