"""The model stage of a fleet run: workers that each load the model once, and the
`Backend` a repository's scan talks to them through.

`ModelWorker` is plain Python; the runner makes it a Ray actor (restarted by Ray when
it dies). `RemoteBackend` is what the model detector of each repository's scan sees:
the same `Backend` contract as a local model, its calls sent to the workers through a
`Caller`, with a failed call sent again (to another worker) so a killed worker costs
time, never a verdict.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from vulnsight.llm.interface import Backend, Capabilities, Completion, Decision
from vulnsight.llm.prompt import Prompt


def worker_spec(spec: str | None, gpus: float) -> str | None:
    """The model spec the workers load: on a GPU the batched transformers runtime
    (`transformers:SPEC`) where the model can run on it as trained, else the spec as
    given (e.g. the shipped default's decision head runs on llama.cpp only)."""
    from vulnsight.errors import ConfigError
    from vulnsight.llm.models import RUNTIMES, resolve

    if gpus <= 0 or resolve(spec).backend in ("fake", "openai"):
        return spec
    given = (spec or "default").strip()
    head, sep, rest = given.partition(":")
    if sep and head in RUNTIMES:
        given = rest
    try:
        resolve(f"transformers:{given}")
    except ConfigError:
        return spec
    return f"transformers:{given}"


class ModelWorker:
    """One loaded model answering batches of prompts (one per Ray actor)."""

    def __init__(self, spec: str | None, threads: int = 1, gpus: float = 0.0) -> None:
        from vulnsight.llm.models import load, resolve

        self.spec = spec  # as `worker_spec` chose it
        overrides: dict[str, Any] = {}
        runtime = resolve(self.spec).backend
        if runtime in ("llamacpp", "hub"):
            overrides["n_threads"] = max(1, threads)  # a fixed share of the node's cores
        if runtime == "transformers" and gpus > 0:
            overrides["device"] = "cuda"
        self.backend: Backend = load(self.spec, **overrides)
        self._decided: set[str] = set()
        self.calls = 0

    def describe(self) -> dict[str, Any]:
        """Name, capabilities, model info and this worker's process id."""
        from vulnsight.llm.interface import model_info

        return {
            "name": self.backend.name,
            "capabilities": self.backend.capabilities,
            "model_info": model_info(self.backend),
            "preferred_batch": int(getattr(self.backend, "preferred_batch", 1) or 1),
            "pid": os.getpid(),
        }

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """P(vulnerable) per prompt."""
        self.calls += 1
        out = self.backend.decide(prompts)
        self._decided.update(p.text for p in prompts)
        return out

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """CWE and line of flagged prompts. A prompt this worker never decided (it was
        decided by a worker that died since) is decided here first, for backends that
        keep state between the two calls."""
        self.calls += 1
        unseen = [p for p in prompts if p.text not in self._decided]
        if unseen:
            self.backend.decide(unseen)
        out = self.backend.complete_flagged(prompts)
        self._decided.difference_update(p.text for p in prompts)
        return out

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """Whole verdicts."""
        self.calls += 1
        return self.backend.generate(prompts, schema)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts under this model's tokenizer."""
        return [self.backend.count_tokens(t) for t in texts]

    def pid(self) -> int:
        """This worker's process id (tests kill it)."""
        return os.getpid()


#: call(worker index, method name, *args) -> the method's result on that worker;
#: raises `WorkerLost` when the worker died (the backend then asks another).
Caller = Callable[..., Any]


class WorkerLost(Exception):
    """A model worker died during a call."""


class RemoteBackend:
    """A `Backend` whose model runs in `workers` model workers.

    Thresholds and the name come from the spec without loading it (as `vulnsight scan`
    gets them from its lazily loaded model); the rest from a worker's `describe`.
    """

    def __init__(
        self, spec: str | None, workers: int, call: Caller, attempts: int = 8, first: int = 0
    ) -> None:
        from vulnsight.review.lazy import LazyBackend

        known = LazyBackend(spec)  # loads nothing
        self.default_threshold = known.default_threshold
        self.language_thresholds = known.language_thresholds
        self.workers = max(1, workers)
        self._call = call
        self._attempts = attempts
        self._next = itertools.count(first)
        self._sticky: dict[str, int] = {}
        self._tokens: dict[str, int] = {}
        info = self._ask("describe")
        self.name: str = str(info["name"])
        self.capabilities: Capabilities = info["capabilities"]
        self.model_info: dict[str, str] = dict(info["model_info"])
        self.preferred_batch: int = int(info["preferred_batch"])
        self.retried = 0

    def _ask(self, method: str, *args: Any, worker: int | None = None) -> Any:
        index = next(self._next) % self.workers if worker is None else worker
        last: Exception | None = None
        for attempt in range(self._attempts):
            try:
                return self._call(index, method, *args)
            except WorkerLost as exc:
                last = exc
                self.retried += 1
                index = (index + 1 + attempt) % self.workers
                time.sleep(min(0.5 * 2**attempt, 5.0))  # a restarting worker reloads its model
        raise RuntimeError(f"model workers kept failing: {last}")

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """P(vulnerable) per prompt, from one worker."""
        index = next(self._next) % self.workers
        out: list[Decision] = self._ask("decide", list(prompts), worker=index)
        for p in prompts:
            self._sticky[p.text] = index
        return out

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """CWE and line, from the worker that decided each prompt."""
        order: dict[int, list[int]] = {}
        for i, p in enumerate(prompts):
            order.setdefault(self._sticky.pop(p.text, 0), []).append(i)
        out: list[Completion | None] = [None] * len(prompts)
        for index, positions in order.items():
            replies = self._ask("complete_flagged", [prompts[i] for i in positions], worker=index)
            for i, reply in zip(positions, replies, strict=True):
                out[i] = reply
        return [c for c in out if c is not None]

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """Whole verdicts, from one worker."""
        out: list[Completion] = self._ask("generate", list(prompts), schema)
        return out

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` under the workers' tokenizer (remembered per text)."""
        if text not in self._tokens:
            if len(self._tokens) > 4096:
                self._tokens.clear()
            self._tokens[text] = int(self._ask("count_tokens", [text])[0])
        return self._tokens[text]

    def close(self) -> None:
        """The workers belong to the run, not to one scan: nothing to release."""
