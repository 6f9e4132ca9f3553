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
    #: functions per `decide` call this backend works best with (a GPU wants many at
    #: once; llama.cpp evaluates one prompt at a time on top of a cached prefix)
    preferred_batch: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def model_info(backend: object) -> dict[str, str]:
    """What model a backend runs, for reports: `backend`, `base`, `adapter` (empty when
    none), and where known `device` and `dtype`. Backends that describe themselves expose
    a `model_info` mapping; others are named by their `name` alone."""
    info = getattr(backend, "model_info", None)
    if isinstance(info, dict):
        return {str(k): str(v) for k, v in info.items()}
    return {"name": str(getattr(backend, "name", "unknown"))}


def model_stats(backend: object) -> dict[str, str]:
    """Flat report stats naming the model that ran: `model` (one line: name, runtime,
    base and adapter, device) and `model_<field>` for each field of `model_info`."""
    info = model_info(backend)
    name = str(getattr(backend, "name", "") or info.get("name", ""))
    line = name
    if info.get("backend"):
        line += f" ({info['backend']}: {info.get('base', '?')}"
        line += f" + adapter {info['adapter']}" if info.get("adapter") else ", no adapter"
        line += f" + head {info['head']}" if info.get("head") else ""
        where = ", ".join(info[k] for k in ("device", "dtype") if info.get(k))
        line += f"; {where})" if where else ")"
    out = {"model": line}
    out.update({f"model_{k}": v for k, v in info.items() if k != "name"})
    return out


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
