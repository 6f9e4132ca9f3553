"""The model backend contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from vulnsight.llm.prompt import Prompt


@dataclass(frozen=True)
class Completion:
    """One reply with what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Decision:
    """The fast path's answer: probability that the function is vulnerable, read from
    the next-token distribution after the forced reply prefix."""

    p_vulnerable: float
    prompt_tokens: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; detectors pick their strategy from this."""

    supports_schema: bool = True
    supports_decision: bool = False
    local: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A language model that answers prompts. Implementations are batched."""

    name: str
    capabilities: Capabilities

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """Whole verdicts for each prompt (constrained to `schema` when given)."""
        ...

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """P(vulnerable) per prompt; only when `capabilities.supports_decision`."""
        ...

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """For prompts already judged vulnerable: the rest of the verdict after
        `{"vulnerability": true`, i.e. the CWE and the line number."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see for `text`."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...
