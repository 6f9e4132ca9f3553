"""Trivial baselines that every leaderboard shows: flag everything, flag nothing, and a
seeded coin. Any detector worth running must beat them on MCC and Youden's J."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from vulnsight.bench.adapters.interface import AdapterOptions, Batch, Prediction
from vulnsight.bench.records import Record
from vulnsight.types import LANGUAGES


class _Constant:
    kind = "baseline"
    languages = frozenset(LANGUAGES)
    excluded_sources: frozenset[str] = frozenset()
    compute = "cpu"
    chunk_size = 0
    verdict = False

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.name = self.__class__.__name__

    def available(self) -> str | None:
        """Always available."""
        return None

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """The same verdict for every record."""
        score = 1.0 if self.verdict else 0.0
        return [
            Prediction(r.id, self.verdict, score, latency_ms=0.0, latency_measured=True)
            for r in records
        ]

    def describe(self) -> dict[str, Any]:
        """No settings."""
        return {"baseline": self.name}


class FlagAll(_Constant):
    """Every record is vulnerable (recall 1, FPR 1, J 0)."""

    verdict = True

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.name = "flag-all"


class FlagNone(_Constant):
    """No record is vulnerable (recall 0, FPR 0, J 0)."""

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.name = "flag-none"


class RandomGuess(_Constant):
    """Flags each record with probability 0.5, seeded by the record id (stable)."""

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.name = "random"

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """A coin per record, the same on every run."""
        out = []
        for r in records:
            p = random.Random(r.id).random()
            out.append(Prediction(r.id, p >= 0.5, p, latency_ms=0.0, latency_measured=True))
        return out
