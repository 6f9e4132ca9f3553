"""The model detector: one verdict per function from a local (or configured) model."""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vulnsight.context import Context, build_context, callers_for
from vulnsight.detectors.interface import DetectorResult, Progress, ScanBatch
from vulnsight.errors import ModelError
from vulnsight.llm.interface import Backend
from vulnsight.llm.prompt import Prompt, render
from vulnsight.llm.schema import VERDICT_SCHEMA, Verdict, parse_verdict
from vulnsight.types import Finding, Function, ScanError, Severity, fingerprint

if TYPE_CHECKING:
    from vulnsight.dataflow.facts import FunctionFacts
    from vulnsight.detectors.gate import Gate
    from vulnsight.detectors.workers import Answer, WorkerPool
    from vulnsight.review.interface import VerdictStore

#: Functions per backend call: small enough for a smooth progress bar.
CHUNK = 8


@dataclass(frozen=True)
class LLMOptions:
    """How the model detector asks and when it reports."""

    threshold: float = 0.5  # P(vulnerable) at or above which a function is flagged
    budget_tokens: int = 8192
    max_callers: int = 3
    #: per-language thresholds a model was calibrated for; `math.inf`: the model is off
    #: in that language (it is not asked, and rule hits there stand on their own)
    by_language: Mapping[str, float] = field(default_factory=dict)
    #: the model gate's mode (`detectors/gate.py`): "safe", "sinks" or "off"; scans get
    #: theirs from `ScanConfig.gate` ("safe" unless set)
    gate: str = "off"
    #: number every n-th target line only (1: every line, as the model was trained)
    number_every: int = 1
    #: model worker processes (`detectors/workers.py`); they load `model_spec` each
    workers: int = 1
    model_spec: str | None = None
    #: show each function's data-flow facts in its prompt (`context.render_facts`,
    #: prompt `verdict_v2_facts`); off by default: the shipped model was trained without
    #: them and they lowered its J (benchmarks/RESULTS.md)
    facts: bool = False
    #: which functions are shown with callers: "all", "facts" (those whose parameters
    #: data flow taints), "none", or "alone" (no callee signatures either: the view the
    #: shipped model was trained on; `context.callers_for`; benchmarks/RESULTS.md)
    callers: str = "all"
    #: a function whose numbered lines exceed this many tokens is shown as windows
    #: around its risky lines (`context.build_context`); 0: always whole (the default:
    #: the labelled flaw line fell outside the windows in 10% of SVEN's long functions)
    window_over: int = 0
    #: judge functions with the same normalised code (and facts) once per scan
    #: (`detectors/dedup.py`), as the verdict cache already does across scans
    dedup: bool = True

    def threshold_for(self, language: str) -> float:
        """The flagging threshold for functions of `language`."""
        return self.by_language.get(language, self.threshold)

    def asks(self, language: str) -> bool:
        """Whether the model is asked about functions of `language` at all."""
        return self.by_language.get(language) != math.inf


def _line_of(verdict: Verdict, fn: Function) -> int:
    """The verdict's line when it falls inside the function, else the function's start."""
    if fn.start_line <= verdict.line_number <= fn.end_line:
        return verdict.line_number
    return fn.start_line


def _snippet(fn: Function, line: int) -> str:
    lines = fn.code.splitlines()
    idx = line - fn.start_line
    return lines[idx].strip() if 0 <= idx < len(lines) else ""


def to_finding(verdict: Verdict, fn: Function, model: str, confidence: float) -> Finding:
    """Turn a positive verdict into a `Finding` on a file line."""
    cwe = verdict.type if verdict.type.startswith("CWE-") else "CWE-20"
    line = _line_of(verdict, fn)
    snippet = _snippet(fn, line)
    return Finding(
        file=fn.file,
        line_number=line,
        cwe=cwe,
        message=f"model flags {fn.name} ({cwe}) with confidence {confidence:.2f}",
        detector="llm",
        confidence=round(confidence, 4),
        severity=Severity.HIGH if confidence >= 0.8 else Severity.MEDIUM,
        function=fn.name,
        model=model,
        snippet=snippet,
        detectors=("llm",),
        fingerprint=fingerprint(cwe, fn.file, fn.name, snippet),
    )


class LLMDetector:
    """Asks a `Backend` about every function of the batch.

    With a backend that exposes next-token logits the decision is read from them and
    only flagged functions pay for decoding CWE and line; otherwise whole verdicts are
    generated under the verdict schema.
    """

    name = "llm"

    def __init__(
        self,
        backend: Backend,
        options: LLMOptions | None = None,
        cache: VerdictStore | None = None,
    ) -> None:
        self.backend = backend
        self.options = options or LLMOptions()
        self.cache = cache

    def units(self, batch: ScanBatch) -> int:
        """One unit per function."""
        return len(batch.functions)

    def _context(self, fn: Function, batch: ScanBatch) -> Context:
        facts = self._facts(batch).get(fn.qualified_id)
        window = self.options.window_over
        return build_context(
            fn,
            batch.graph,
            budget_tokens=self.options.budget_tokens,
            count_tokens=self.backend.count_tokens,
            max_callers=callers_for(self.options.callers, self.options.max_callers, facts),
            number_every=self.options.number_every,
            facts=facts,
            show_facts=self.options.facts,
            focus=self._focus(fn, batch) if window > 0 else (),
            window_over=window,
            callees=self.options.callers != "alone",
        )

    def _focus(self, fn: Function, batch: ScanBatch) -> set[int]:
        """The lines a windowed view of `fn` is cut around: its risky lines and rule hits
        (waiting for the rules: windows are only cut when `window_over` is set)."""
        from vulnsight.detectors.gate import Gate

        hits = batch.rule_hits() if batch.rule_hits is not None else ()
        lines = {f.line_number for f in hits if f.file == fn.file}
        gate = Gate(batch.graph, mode="off", facts=self._facts(batch))
        return gate.risky_lines(fn, lines)

    def _facts(self, batch: ScanBatch) -> Mapping[str, FunctionFacts]:
        """The batch's data-flow facts by `qualified_id` (none without an analysis)."""
        return batch.flow().facts if batch.flow is not None else {}

    def _salts(self, batch: ScanBatch, chunk: Sequence[Function]) -> dict[str, str]:
        """Cache-key salts: the facts digest of each function that has one, marked when
        the prompt shows the facts (the model then saw something else)."""
        facts = self._facts(batch)
        out: dict[str, str] = {}
        for fn in chunk:
            found = facts.get(fn.qualified_id)
            if found is not None and found.digest:
                shown = self.options.facts and not found.empty
                out[fn.qualified_id] = ("shown:" if shown else "") + found.digest
        return out

    def detect_all(self, batch: ScanBatch, progress: Progress | None = None) -> DetectorResult:
        """Verdicts for every function the gate lets through; model failures become
        `ScanError`s. Functions the gate skips are "not flagged" without a model call."""
        findings: list[Finding] = []
        errors: list[ScanError] = []
        scores: dict[str, float] = {}
        timings: list[float] = []
        clock: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        functions = [fn for fn in batch.functions if self.options.asks(fn.language)]
        off = len(batch.functions) - len(functions)
        if progress and off:
            progress(off)
        gate = self._new_gate(batch)
        now, deferred = self._gate(gate, batch, functions, clock, counts)
        hits = 0
        # A batching backend (transformers on a GPU) is handed as many functions at once
        # as it batches; read without loading a lazy backend.
        size = max(CHUNK, int(getattr(self.backend, "preferred_batch", 0) or 0))
        parallel = self.options.workers > 1
        pool: WorkerPool | None = None  # started only when some function needs the model
        seen: dict[str, Function] = {}
        judged_as: dict[str, Function] = {}
        ticked = 0
        try:
            for group in (now, None):
                if group is None:  # functions whose only reason may be a rule hit
                    group = self._gate_deferred(gate, batch, deferred, clock, counts)
                    if progress and len(deferred) > len(group):
                        progress(len(deferred) - len(group))
                if self.options.dedup:
                    group = self._dedup(batch, group, seen, judged_as)
                    if progress and len(judged_as) > ticked:
                        progress(len(judged_as) - ticked)
                    ticked = len(judged_as)
                pending: list[tuple[list[Function], list[Function]]] = []
                for i in range(0, len(group), size):
                    todo = group[i : i + size]
                    chunk = (
                        todo
                        if self.cache is None
                        else self._from_cache(todo, findings, scores, self._salts(batch, todo))
                    )
                    hits += len(todo) - len(chunk)
                    if parallel:
                        pending.append((todo, chunk))
                        continue
                    if chunk:
                        self._judge(batch, chunk, findings, errors, scores, timings, clock, counts)
                    if progress:
                        progress(len(todo))
                if pending:
                    if pool is None and any(chunk for _, chunk in pending):
                        pool = self._pool()
                    out = (findings, errors, scores, timings)
                    self._judge_parallel(pool, batch, pending, out, clock, counts, progress)
        finally:
            if pool is not None:
                pool.close()
        self._reuse(batch, judged_as, findings, scores)
        counts["model_duplicates"] = len(judged_as)
        return DetectorResult(
            findings=tuple(findings),
            errors=tuple(errors),
            scores=scores,
            stats=self._stats(len(functions), off, hits, findings, timings, clock, counts),
            timings_ms=tuple(timings),
        )

    def _dedup(
        self,
        batch: ScanBatch,
        group: Sequence[Function],
        seen: dict[str, Function],
        judged_as: dict[str, Function],
    ) -> list[Function]:
        """`group` without the duplicates of functions judged already (in `seen`, keyed
        by `dedup.duplicate_key`); each duplicate is noted in `judged_as`."""
        from vulnsight.detectors.dedup import duplicate_key

        salts = self._salts(batch, group)
        unique: list[Function] = []
        for fn in group:
            rep = seen.setdefault(duplicate_key(fn, salts.get(fn.qualified_id, "")), fn)
            if rep is fn:
                unique.append(fn)
            else:
                judged_as[fn.qualified_id] = rep
        return unique

    def _reuse(
        self,
        batch: ScanBatch,
        judged_as: Mapping[str, Function],
        findings: list[Finding],
        scores: dict[str, float],
    ) -> None:
        """Give each duplicate its representative's score and finding (moved onto it)."""
        if not judged_as:
            return
        from vulnsight.detectors.dedup import moved_finding

        by_id = {fn.qualified_id: fn for fn in batch.functions}
        for qid, rep in judged_as.items():
            if rep.qualified_id not in scores:
                continue  # the model failed on the representative: its error stands
            dup = by_id[qid]
            scores[qid] = scores[rep.qualified_id]
            findings.extend(
                moved_finding(f, rep, dup)
                for f in list(findings)
                if f.file == rep.file
                and f.function == rep.name
                and rep.start_line <= f.line_number <= rep.end_line
            )

    def _new_gate(self, batch: ScanBatch) -> Gate | None:
        if self.options.gate == "off":
            return None
        from vulnsight.detectors.gate import Gate

        return Gate(batch.graph, mode=self.options.gate, facts=self._facts(batch))

    def _gate(
        self,
        gate: Gate | None,
        batch: ScanBatch,
        functions: Sequence[Function],
        clock: dict[str, float],
        counts: dict[str, int],
    ) -> tuple[list[Function], list[Function]]:
        """(functions to judge now, functions that need the rule hits to decide)."""
        if gate is None:
            return list(functions), []
        started = time.perf_counter()
        now: list[Function] = []
        deferred: list[Function] = []
        for fn in functions:
            decision = gate.decide(fn, changed=batch.changed)
            (now if decision.judge else deferred).append(fn)
            if decision.judge:
                counts[f"gate_judged_{decision.reason}"] += 1
        clock["gate"] += time.perf_counter() - started
        return now, deferred

    def _gate_deferred(
        self,
        gate: Gate | None,
        batch: ScanBatch,
        deferred: Sequence[Function],
        clock: dict[str, float],
        counts: dict[str, int],
    ) -> list[Function]:
        """Of `deferred`, those with a rule hit inside; the rest are skipped."""
        if gate is None or not deferred:
            return list(deferred)
        waited = time.perf_counter()
        hits = batch.rule_hits() if batch.rule_hits is not None else ()
        clock["wait_rules"] += time.perf_counter() - waited
        started = time.perf_counter()
        lines: dict[str, set[int]] = defaultdict(set)
        for f in hits:
            lines[f.file].add(f.line_number)
        judged: list[Function] = []
        for fn in deferred:
            decision = gate.decide(fn, lines.get(fn.file, ()))
            if decision.judge:
                judged.append(fn)
                counts[f"gate_judged_{decision.reason}"] += 1
            else:
                counts["gate_skipped"] += 1
                counts[f"gate_skipped_{decision.reason}"] += 1
        clock["gate"] += time.perf_counter() - started
        return judged

    def _judge(
        self,
        batch: ScanBatch,
        chunk: Sequence[Function],
        findings: list[Finding],
        errors: list[ScanError],
        scores: dict[str, float],
        timings: list[float],
        clock: dict[str, float],
        counts: dict[str, int],
    ) -> None:
        """Ask the backend about `chunk` (cache misses) and cache what it said."""
        first_new = len(findings)
        started = time.perf_counter()
        contexts = [self._context(fn, batch) for fn in chunk]
        prompts = [
            render(ctx.text, fn.language, facts=ctx.facts_text)
            for fn, ctx in zip(chunk, contexts, strict=True)
        ]
        asked = time.perf_counter()
        clock["context"] += asked - started
        counts["model_tokens"] += sum(ctx.tokens for ctx in contexts)
        counts["model_judged"] += len(chunk)
        try:
            if self.backend.capabilities.supports_decision:
                self._decide(chunk, prompts, findings, scores, timings)
            else:
                self._generate(chunk, prompts, findings, errors, scores, timings)
        except ModelError as exc:
            errors.extend(ScanError(fn.file, f"model: {exc}", self.name) for fn in chunk)
        else:
            self._to_cache(chunk, findings[first_new:], scores, self._salts(batch, chunk))
        clock["model"] += time.perf_counter() - asked

    def _pool(self) -> WorkerPool:
        from vulnsight.detectors.workers import WorkerPool

        return WorkerPool(self.options.model_spec, self.options.workers)

    def _judge_parallel(
        self,
        pool: WorkerPool | None,
        batch: ScanBatch,
        pending: Sequence[tuple[list[Function], list[Function]]],
        out: tuple[list[Finding], list[ScanError], dict[str, float], list[float]],
        clock: dict[str, float],
        counts: dict[str, int],
        progress: Progress | None,
    ) -> None:
        """`_judge` for many chunks at once on the worker processes, merged in order."""
        from vulnsight.detectors.workers import Job

        findings, errors, scores, timings = out
        started = time.perf_counter()
        asked = [chunk for _, chunk in pending if chunk]
        jobs: list[list[Job]] = []
        for chunk in asked:
            contexts = [self._context(fn, batch) for fn in chunk]
            counts["model_tokens"] += sum(ctx.tokens for ctx in contexts)
            counts["model_judged"] += len(chunk)
            jobs.append(
                [
                    Job(
                        ctx.text,
                        fn.language,
                        self.options.threshold_for(fn.language),
                        ctx.facts_text,
                    )
                    for fn, ctx in zip(chunk, contexts, strict=True)
                ]
            )
        sent = time.perf_counter()
        clock["context"] += sent - started
        answers = iter(pool.map(jobs) if pool is not None and jobs else [])
        for todo, chunk in pending:
            if chunk:
                first_new = len(findings)
                for fn, answer in zip(chunk, next(answers), strict=True):
                    self._take(fn, answer, findings, errors, scores, timings)
                self._to_cache(chunk, findings[first_new:], scores, self._salts(batch, chunk))
            if progress:
                progress(len(todo))
        clock["model"] += time.perf_counter() - sent

    def _take(
        self,
        fn: Function,
        answer: Answer,
        findings: list[Finding],
        errors: list[ScanError],
        scores: dict[str, float],
        timings: list[float],
    ) -> None:
        """Record a worker's answer about `fn` as `_decide`/`_generate` would."""
        if answer.error is not None:
            errors.append(ScanError(fn.file, f"model: {answer.error}", self.name))
            return
        timings.append(answer.seconds * 1000)
        if answer.p_vulnerable is not None:  # a decision; text only for flagged functions
            scores[fn.qualified_id] = answer.p_vulnerable
            if answer.text is not None:
                try:
                    verdict = parse_verdict(answer.text)
                except ModelError as exc:
                    errors.append(ScanError(fn.file, f"{fn.name}: {exc}", self.name))
                    return
                findings.append(to_finding(verdict, fn, self.backend.name, answer.p_vulnerable))
            return
        try:
            verdict = parse_verdict(answer.text or "")
        except ModelError as exc:
            errors.append(ScanError(fn.file, f"{fn.name}: {exc}", self.name))
            return
        p = verdict.confidence if verdict.vulnerability else 1.0 - verdict.confidence
        scores[fn.qualified_id] = p
        if verdict.vulnerability and p >= self.options.threshold_for(fn.language):
            findings.append(to_finding(verdict, fn, self.backend.name, p))

    def _stats(
        self,
        asked: int,
        off: int,
        hits: int,
        findings: Sequence[Finding],
        timings: Sequence[float],
        clock: Mapping[str, float],
        counts: Mapping[str, int],
    ) -> dict[str, float | int | str]:
        skipped = counts.get("gate_skipped", 0)
        stats: dict[str, float | int | str] = {
            "llm_functions": asked,
            "model_functions_judged": counts.get("model_judged", 0),
            "model_functions_skipped": skipped,
            "model_tokens": counts.get("model_tokens", 0),
            "time_gate_s": round(clock.get("gate", 0.0), 3),
            "time_context_s": round(clock.get("context", 0.0), 3),
            "time_model_s": round(clock.get("model", 0.0), 3),
            "model_workers": self.options.workers,
        }
        if counts.get("model_duplicates"):
            stats["model_duplicates_reused"] = counts["model_duplicates"]
        stats.update({k: v for k, v in sorted(counts.items()) if k.startswith("gate_")})
        if "wait_rules" in clock:
            stats["time_gate_wait_rules_s"] = round(clock["wait_rules"], 3)
        if off:
            stats["llm_languages_off"] = off
        if self.cache is not None:
            stats["cache_hits"] = hits
            stats["cache_misses"] = asked - skipped - hits - counts.get("model_duplicates", 0)
        if timings:
            stats["llm_ms_median"] = round(statistics.median(timings), 1)
            stats["llm_flagged"] = len(findings)
        return stats

    # Incremental cache (review workflow): consulted before the backend, written after
    # each chunk so an interrupted scan resumes where it stopped.
    def _from_cache(
        self,
        chunk: Sequence[Function],
        findings: list[Finding],
        scores: dict[str, float],
        salts: Mapping[str, str],
    ) -> list[Function]:
        """Report cached verdicts of `chunk`; return the functions the model must see."""
        from vulnsight.llm.schema import Verdict

        assert self.cache is not None
        cached = self.cache.get_many(self.backend.name, chunk, salts)
        missing: list[Function] = []
        for fn in chunk:
            hit = cached.get(fn.qualified_id)
            threshold = self.options.threshold_for(fn.language)
            if hit is None or not hit.answers(threshold):
                missing.append(fn)
                continue
            scores[fn.qualified_id] = hit.p_vulnerable
            if hit.p_vulnerable >= threshold and hit.cwe is not None:
                line = fn.start_line + (hit.line_offset or 0)
                verdict = Verdict(
                    vulnerability=True, type=hit.cwe, line_number=line, confidence=1.0
                )
                findings.append(to_finding(verdict, fn, self.backend.name, hit.p_vulnerable))
        return missing

    def _to_cache(
        self,
        chunk: Sequence[Function],
        new: Sequence[Finding],
        scores: dict[str, float],
        salts: Mapping[str, str],
    ) -> None:
        from vulnsight.review.interface import CachedVerdict

        if self.cache is None:
            return
        entries: dict[Function, CachedVerdict] = {}
        for fn in chunk:
            p = scores.get(fn.qualified_id)
            if p is None:
                continue
            hit = next(
                (
                    f
                    for f in new
                    if f.file == fn.file
                    and f.function == fn.name
                    and fn.start_line <= f.line_number <= fn.end_line
                ),
                None,
            )
            entries[fn] = CachedVerdict(
                p_vulnerable=p,
                cwe=hit.cwe if hit else None,
                line_offset=hit.line_number - fn.start_line if hit else None,
            )
        self.cache.put_many(self.backend.name, entries, salts)

    def _decide(
        self,
        chunk: Sequence[Function],
        prompts: Sequence[Prompt],
        findings: list[Finding],
        scores: dict[str, float],
        timings: list[float],
    ) -> None:
        decisions = self.backend.decide(prompts)
        flagged = [
            (fn, prompt, d)
            for fn, prompt, d in zip(chunk, prompts, decisions, strict=True)
            if d.p_vulnerable >= self.options.threshold_for(fn.language)
        ]
        extra: dict[str, float] = {}
        if flagged:
            replies = self.backend.complete_flagged([p for _, p, _ in flagged])
            for (fn, _, d), reply in zip(flagged, replies, strict=True):
                verdict = parse_verdict(reply.text)
                findings.append(to_finding(verdict, fn, self.backend.name, d.p_vulnerable))
                extra[fn.qualified_id] = reply.seconds * 1000
        for fn, d in zip(chunk, decisions, strict=True):
            scores[fn.qualified_id] = d.p_vulnerable
            timings.append(d.seconds * 1000 + extra.get(fn.qualified_id, 0.0))

    def _generate(
        self,
        chunk: Sequence[Function],
        prompts: Sequence[Prompt],
        findings: list[Finding],
        errors: list[ScanError],
        scores: dict[str, float],
        timings: list[float],
    ) -> None:
        replies = self.backend.generate(prompts, schema=VERDICT_SCHEMA)
        for fn, reply in zip(chunk, replies, strict=True):
            timings.append(reply.seconds * 1000)
            try:
                verdict = parse_verdict(reply.text)
            except ModelError as exc:
                errors.append(ScanError(fn.file, f"{fn.name}: {exc}", self.name))
                continue
            p = verdict.confidence if verdict.vulnerability else 1.0 - verdict.confidence
            scores[fn.qualified_id] = p
            if verdict.vulnerability and p >= self.options.threshold_for(fn.language):
                findings.append(to_finding(verdict, fn, self.backend.name, p))
