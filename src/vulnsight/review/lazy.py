"""A backend that loads its model on first use, so a rescan whose changed functions are
all cached (or that changed no function) never pays for loading the model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vulnsight.llm.interface import Backend, Capabilities, Completion, Decision, model_info
from vulnsight.llm.prompt import Prompt


def _known(spec: str | None) -> tuple[str | None, float | None, dict[str, float], str]:
    """The name the backend will report, when known without loading it, and the
    flagging thresholds its model directory was calibrated for (None: the default)."""
    from vulnsight.llm.models import resolve

    resolved = resolve(spec)
    name = resolved.label if resolved.backend in ("llamacpp", "transformers", "fake") else None
    threshold = resolved.kwargs.get("threshold")
    by_language = dict(resolved.kwargs.get("language_thresholds") or {})
    return name, float(threshold) if threshold is not None else None, by_language, resolved.backend


def _backend_of(spec: str | None) -> str:
    from vulnsight.llm.models import resolve

    return resolve(spec).backend


class LazyBackend:
    """Stands in for `models.load(spec)` until the model is really asked something."""

    def __init__(self, spec: str | None, untrusted: bool = False) -> None:
        self._spec = spec
        self._backend: Backend | None = None
        known = _known(spec)
        self._name, self.default_threshold, self.language_thresholds, self._runtime = known
        # A model a scanned repository chose (and the user allowed): an endpoint never
        # gets the user's API key.
        self._overrides: dict[str, Any] = {}
        if untrusted and _backend_of(spec) == "openai":
            self._overrides["api_key_env"] = ""

    @property
    def spec(self) -> str | None:
        """The model spec this stands in for (model worker processes load it too)."""
        return self._spec

    @property
    def loaded(self) -> bool:
        """Whether the model was loaded."""
        return self._backend is not None

    def _get(self) -> Backend:
        if self._backend is None:
            from vulnsight.llm.models import load

            self._backend = load(self._spec, **self._overrides)
        return self._backend

    @property
    def name(self) -> str:
        """The model's name (cache keys and findings use it)."""
        return self._name if self._name is not None else self._get().name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def preferred_batch(self) -> int:
        """Functions per call the backend batches, without loading it (transformers:
        a GPU-sized chunk; the backend splits it into its own batches)."""
        if self._backend is not None:
            return int(getattr(self._backend, "preferred_batch", 1))
        return 64 if self._runtime == "transformers" else 1

    @property
    def model_info(self) -> dict[str, str]:
        """What the loaded backend runs; before loading, only the spec's name (then no
        model ran: every verdict came from the cache)."""
        if self._backend is not None:
            return model_info(self._backend)
        return {"name": self.name, "ran": "no: every verdict came from the cache"}

    @property
    def capabilities(self) -> Capabilities:
        """The loaded backend's capabilities."""
        return self._get().capabilities

    @capabilities.setter
    def capabilities(self, value: Capabilities) -> None:
        self._get().capabilities = value

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """Whole verdicts (loads the model)."""
        return self._get().generate(prompts, schema)

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """P(vulnerable) per prompt (loads the model)."""
        return self._get().decide(prompts)

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """CWE and line of flagged prompts (loads the model)."""
        return self._get().complete_flagged(prompts)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` (loads the model)."""
        return self._get().count_tokens(text)

    def close(self) -> None:
        """Release the model if it was loaded."""
        if self._backend is not None:
            self._backend.close()
