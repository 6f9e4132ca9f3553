"""A scripted backend for tests: replies are queued or computed by a function."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vulnsight.llm.interface import Capabilities, Completion, Decision
from vulnsight.llm.prompt import Prompt


class FakeBackend:
    """Answers from a queue of verdict dicts, or from `responder(prompt) -> dict`.

    Records every prompt it sees, so tests can assert what the model was shown.
    """

    name = "fake"

    def __init__(
        self,
        replies: Iterable[dict[str, Any]] = (),
        responder: Callable[[Prompt], dict[str, Any]] | None = None,
        supports_decision: bool = True,
    ) -> None:
        self._queue: deque[dict[str, Any]] = deque(replies)
        self._responder = responder
        self.capabilities = Capabilities(supports_decision=supports_decision)
        self.seen: list[Prompt] = []
        self._decided: dict[str, dict[str, Any]] = {}

    def _next(self, prompt: Prompt) -> dict[str, Any]:
        self.seen.append(prompt)
        if self._responder is not None:
            return self._responder(prompt)
        if not self._queue:
            return {"vulnerability": False, "type": "none", "line_number": 0, "confidence": 0.1}
        return self._queue.popleft()

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """Whole verdicts as JSON text."""
        return [Completion(text=json.dumps(self._next(p))) for p in prompts]

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """P(vulnerable) taken from the scripted verdict's confidence."""
        out = []
        for p in prompts:
            v = self._next(p)
            conf = float(v["confidence"])
            out.append(Decision(p_vulnerable=conf if v["vulnerability"] else 1.0 - conf))
            self._decided[p.text] = v
        return out

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """The scripted CWE and line of the most recent verdict for this prompt."""
        return [Completion(text=json.dumps(self._decided[p.text])) for p in prompts]

    def count_tokens(self, text: str) -> int:
        """Whitespace tokens: good enough for budgets in tests."""
        return len(text.split())

    def close(self) -> None:
        """Nothing to release."""
