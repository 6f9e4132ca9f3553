"""The verdict schema: the single source of truth for the prompt, the decoding
constraint and the parser of model replies."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vulnsight.errors import ModelError

#: JSON schema of one model verdict. The prompt quotes it, the llama.cpp grammar and
#: OpenAI-compatible `response_format` are built from it, and `Verdict` validates it.
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "vulnerability": {"type": "boolean"},
        "type": {"type": "string", "pattern": "^(CWE-[0-9]{1,5}|none)$"},
        "line_number": {"type": "integer", "minimum": 0},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["vulnerability", "type", "line_number", "confidence"],
    "additionalProperties": False,
}

#: Field order in the reply; the fast path forces the text up to the first value.
FIELD_ORDER: tuple[str, ...] = ("vulnerability", "type", "line_number", "confidence")


class Verdict(BaseModel):
    """One parsed, validated model verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vulnerability: bool
    type: str = Field(pattern=r"^(CWE-[0-9]{1,5}|none)$")
    line_number: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0)


def schema_text() -> str:
    """The schema as compact JSON, as quoted in prompts."""
    return json.dumps(VERDICT_SCHEMA, separators=(",", ":"))


def reply_prefix() -> str:
    """The fixed start of every reply, up to the first value (`{"vulnerability":`)."""
    return '{"' + FIELD_ORDER[0] + '":'


def reply_text(verdict: Verdict) -> str:
    """A verdict as the model is trained to write it (and as the fast path forces it):
    `json.dumps` spacing, fields in `FIELD_ORDER`."""
    return json.dumps({name: getattr(verdict, name) for name in FIELD_ORDER})


def continuation(verdict: Verdict) -> str:
    """What follows the forced reply prefix: the training target of one verdict."""
    return reply_text(verdict)[len(reply_prefix()) :]


def parse_verdict(reply: str) -> Verdict:
    """Parse a model reply into a `Verdict`: the one place model output is trusted.

    Accepts the JSON object alone or surrounded by prose/code fences (remote models
    sometimes add them); raises `ModelError` when no valid verdict is found.
    """
    text = reply.strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ModelError(f"model reply holds no JSON object: {reply[:120]!r}")
    try:
        data = json.loads(text[start : end + 1])
        return Verdict.model_validate(data)
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ModelError(f"model reply is not a valid verdict: {exc}") from exc
