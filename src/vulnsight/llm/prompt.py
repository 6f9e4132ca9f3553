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
#: The same prompt with a block of data-flow facts before the code (`context.render_facts`):
#: used for a function with facts when the scan shows them (off by default: the shipped
#: model was trained without them; benchmarks/RESULTS.md).
FACTS_PROMPT_VERSION = "verdict_v2_facts"
_SPLIT = "<<<BODY>>>\n"
#: Anything in the context that would close the template's ``<code>`` block.
_CLOSE_CODE = re.compile(r"<\s*/\s*code", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{(language|reply_prefix|facts|context)\}")
#: Anything in the facts that would close (or open) a block of the template.
_BLOCK_TAG = re.compile(r"<\s*/?\s*(code|facts)", re.IGNORECASE)


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


def render(context: str, language: str, version: str = PROMPT_VERSION, facts: str = "") -> Prompt:
    """Render the prompt for one function's context (already comment-stripped).

    The context cannot close the ``<code>`` block it is quoted in: any ``</code``
    left in it (JSX, a regex, a macro) becomes ``< /code``. With `facts` (rendered by
    `context.render_facts`) the prompt is `FACTS_PROMPT_VERSION`'s, the facts in their
    own block before the code (no tag inside them opens or closes a block)."""
    if facts.strip():
        version = FACTS_PROMPT_VERSION
    prefix, body = _template(version)
    prefix = prefix.replace("{schema}", schema_text())
    values = {
        "language": language,
        "reply_prefix": reply_prefix(),
        "facts": _BLOCK_TAG.sub(lambda m: "< " + m.group(1), facts.strip()),
        "context": _CLOSE_CODE.sub("< /code", context.rstrip("\n")),
    }
    # One pass, so braces in code or facts are never interpreted.
    body = _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)
    return Prompt(prefix=prefix, body=body.rstrip("\n"))
