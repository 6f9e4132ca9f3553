"""Versioned prompt templates rendered from the verdict schema and a function's context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from vulnsight.llm.schema import reply_prefix, schema_text

#: Bump when the template, the schema or what the model sees of the code changes:
#: cached verdicts are keyed on it. v2: string literals neutralised
#: (`parse/literals.py`) and the code block can no longer be closed from inside.
PROMPT_VERSION = "verdict_v2"
_SPLIT = "<<<BODY>>>\n"
#: Anything in the context that would close the template's ``<code>`` block.
_CLOSE_CODE = re.compile(r"<\s*/\s*code", re.IGNORECASE)


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt in two parts.

    `prefix` is identical for every function (its KV cache is computed once and
    reused); `body` holds the function's context and ends with the forced reply
    prefix, so the next token the model produces is the verdict's first value.
    """

    prefix: str
    body: str

    @property
    def text(self) -> str:
        """The whole prompt."""
        return self.prefix + self.body

    @property
    def instruction(self) -> str:
        """The prompt without the forced reply prefix, for chat endpoints that answer
        with a whole JSON object."""
        forced = reply_prefix()
        text = self.text
        return text[: -len(forced)].rstrip() if text.endswith(forced) else text


@cache
def _template(version: str) -> tuple[str, str]:
    raw = files("vulnsight.llm.prompts").joinpath(f"{version}.txt").read_text("utf-8")
    prefix, _, body = raw.partition(_SPLIT)
    return prefix, body


def render(context: str, language: str, version: str = PROMPT_VERSION) -> Prompt:
    """Render the prompt for one function's context (already comment-stripped).

    The context cannot close the ``<code>`` block it is quoted in: any ``</code``
    left in it (JSX, a regex, a macro) becomes ``< /code``."""
    prefix, body = _template(version)
    prefix = prefix.replace("{schema}", schema_text())
    # Substitute the context last so braces in code are never interpreted.
    body = body.replace("{language}", language).replace("{reply_prefix}", reply_prefix())
    body = body.replace("{context}", _CLOSE_CODE.sub("< /code", context.rstrip("\n")))
    return Prompt(prefix=prefix, body=body.rstrip("\n"))
