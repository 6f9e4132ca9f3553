"""Contracts of the review workflow: cached verdicts and the store that keeps them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from vulnsight.types import Function


@dataclass(frozen=True)
class CachedVerdict:
    """What the model said about one function, independent of where the function sits.

    `line_offset` is the flagged line relative to the function's first line, so a
    verdict stays valid when code above the function moves. `cwe` is None when the
    model's CWE and line were never decoded (the function was below the threshold).
    """

    p_vulnerable: float
    cwe: str | None = None
    line_offset: int | None = None

    def answers(self, threshold: float) -> bool:
        """Whether this entry is enough to report on at `threshold` without the model."""
        return self.p_vulnerable < threshold or self.cwe is not None


class VerdictStore(Protocol):
    """Where model verdicts are kept between scans, keyed by model and function text."""

    def get_many(
        self,
        model: str,
        functions: Sequence[Function],
        salts: Mapping[str, str] | None = None,
    ) -> dict[str, CachedVerdict]:
        """Cached verdicts by `Function.qualified_id`, for the functions that have one.

        `salts` (by `qualified_id`) are part of a function's key besides its text: the
        digest of the data-flow facts that touch it (`dataflow/facts.py`)."""
        ...

    def put_many(
        self,
        model: str,
        verdicts: Mapping[Function, CachedVerdict],
        salts: Mapping[str, str] | None = None,
    ) -> None:
        """Store verdicts (committed at once, so an interrupted scan keeps them)."""
        ...
