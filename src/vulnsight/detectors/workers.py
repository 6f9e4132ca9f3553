"""Model worker processes: the model stage on N processes, each with its own backend.

Prompt evaluation is compute-bound, so on a machine with more cores than one llama.cpp
context uses well, several processes (each with `cores // N` threads) judge chunks of
functions side by side. The parent builds the contexts (it holds the call graph) and
merges the answers in submission order, so results do not depend on which worker ran a
chunk or when it finished.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from vulnsight.llm.interface import Backend

_BACKEND: Backend | None = None


@dataclass(frozen=True)
class Job:
    """One function to judge: its rendered context, language and flagging threshold."""

    context: str
    language: str
    threshold: float
    facts: str = ""  # the rendered data-flow facts the prompt shows ("" for none)


@dataclass(frozen=True)
class Answer:
    """A worker's answer: P(vulnerable) (None for whole verdicts), the verdict text of a
    flagged function (or the whole verdict), seconds spent, or the error raised."""

    p_vulnerable: float | None
    text: str | None
    seconds: float
    error: str | None = None


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Threads each worker's llama.cpp gets: the machine's cores shared out, at least 1."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def _init(spec: str | None, threads: int) -> None:
    global _BACKEND
    from vulnsight.llm.models import load, resolve

    overrides: dict[str, Any] = {}
    if resolve(spec).backend in ("llamacpp", "hub"):
        overrides["n_threads"] = threads
    _BACKEND = load(spec, **overrides)


def judge(jobs: Sequence[Job]) -> list[Answer]:
    """Judge a chunk in this process's backend (the worker side)."""
    from vulnsight.errors import ModelError
    from vulnsight.llm.prompt import render
    from vulnsight.llm.schema import VERDICT_SCHEMA

    backend = _BACKEND
    assert backend is not None, "worker not initialised"
    prompts = [render(job.context, job.language, facts=job.facts) for job in jobs]
    try:
        if backend.capabilities.supports_decision:
            decisions = backend.decide(prompts)
            flagged = [
                i for i, (job, d) in enumerate(zip(jobs, decisions, strict=True))
                if d.p_vulnerable >= job.threshold
            ]  # fmt: skip
            replies = backend.complete_flagged([prompts[i] for i in flagged]) if flagged else []
            texts: dict[int, Any] = dict(zip(flagged, replies, strict=True))
            return [
                Answer(
                    d.p_vulnerable,
                    texts[i].text if i in texts else None,
                    d.seconds + (texts[i].seconds if i in texts else 0.0),
                )
                for i, d in enumerate(decisions)
            ]
        completions = backend.generate(prompts, schema=VERDICT_SCHEMA)
        return [Answer(None, c.text, c.seconds) for c in completions]
    except ModelError as exc:
        return [Answer(None, None, 0.0, str(exc)) for _ in jobs]


class WorkerPool:
    """`workers` processes, each loading the model `spec` once."""

    def __init__(self, spec: str | None, workers: int, cores: int | None = None) -> None:
        self.workers = workers
        self.threads = threads_per_worker(workers, cores)
        # spawn, not fork: the parent may hold a loaded model and the rules thread
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(spec, self.threads),
        )

    def map(self, chunks: Sequence[Sequence[Job]]) -> Iterator[list[Answer]]:
        """Answers per chunk, in the order the chunks were given."""
        return self._pool.map(judge, chunks)

    def close(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)
