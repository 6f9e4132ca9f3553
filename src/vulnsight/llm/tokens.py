"""What every logit-reading backend shares: token tables from any tokenizer's encode
function, and the verdict built from the digits it decoded.

Pure: a backend passes `encode(text) -> ids` (without BOS), so llama.cpp and transformers
read the decision and decode digits at exactly the same tokens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from vulnsight.errors import ModelError
from vulnsight.llm.interface import Completion
from vulnsight.llm.schema import reply_prefix

Encode = Callable[[str], Sequence[int]]


def single_tokens(encode: Encode, chars: str) -> dict[int, str]:
    """Token id -> character for each of `chars`, each of which must be one token."""
    table: dict[int, str] = {}
    for ch in chars:
        ids = list(encode(ch))
        if len(ids) != 1:
            raise ModelError(f"model vocabulary splits {ch!r}; unsupported tokenizer")
        table[ids[0]] = ch
    return table


def decision_tokens(encode: Encode) -> tuple[list[int], int, int]:
    """Tokens forced after the reply prefix, then the first token of true and of false."""
    base = list(encode(reply_prefix()))
    t = list(encode(reply_prefix() + " true"))[len(base) :]
    f = list(encode(reply_prefix() + " false"))[len(base) :]
    shared: list[int] = []
    while t and f and t[0] == f[0]:
        shared.append(t.pop(0))
        f.pop(0)
    if not t or not f:
        raise ModelError("cannot tell 'true' from 'false' in this tokenizer")
    return shared, t[0], f[0]


def flagged_completion(cwe: str, line: str, prompt_tokens: int, started: float) -> Completion:
    """The whole verdict of a function judged vulnerable, from the CWE and line digits
    decoded after the forced prefix (`line` empty: line 0), timed from `started`."""
    verdict = {
        "vulnerability": True,
        "type": f"CWE-{cwe}",
        "line_number": int(line or "0"),
        "confidence": 1.0,
    }
    return Completion(
        text=json.dumps(verdict),
        prompt_tokens=prompt_tokens,
        completion_tokens=len(cwe) + len(line),
        seconds=time.perf_counter() - started,
    )
