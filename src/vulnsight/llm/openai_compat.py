"""Backend for any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, a
cloud API). Used only when the user names its URL: this is the one place vulnsight may
open a network connection."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from vulnsight.errors import ModelError
from vulnsight.llm.interface import Capabilities, Completion, Decision
from vulnsight.llm.prompt import Prompt

_SYSTEM = "You are a code security reviewer. Answer with one JSON verdict object only."


class OpenAICompatBackend:
    """Chat completions with the verdict schema as `response_format`.

    The OpenAI form (`{"type": "json_schema", ...}`) is tried first; servers that
    reject it (llama.cpp's Python server wants `{"type": "json_object", "schema": ...}`)
    are retried once in their form, which is then kept.
    """

    capabilities = Capabilities(supports_schema=True, supports_decision=False, local=False)

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        api_key: str | None = None,
        timeout: float = 120.0,
        max_tokens: int = 96,
        api_key_env: str | None = "VULNSIGHT_API_KEY",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"{model}@{self.base_url}"
        # api_key_env="" (or None): an endpoint the user did not name (a scanned repository's
        # configuration chose it) never receives the user's key.
        self._key = api_key or (os.environ.get(api_key_env) if api_key_env else None)
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._format_style = "json_schema"

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._format_style == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": schema, "strict": True},
            }
        return {"type": "json_object", "schema": schema}

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        req = urllib.request.Request(
            self.base_url + "/chat/completions",
            data=json.dumps(payload).encode(),
            headers=headers,
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=self._timeout) as resp:  # noqa: S310
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def _chat(self, prompt: Prompt, schema: dict[str, Any] | None) -> Completion:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": prompt.instruction},
            ],
            "temperature": 0,
            "max_tokens": self._max_tokens,
        }
        start = time.perf_counter()
        for attempt in range(2):
            if schema is not None:
                payload["response_format"] = self._response_format(schema)
            try:
                data = self._post(payload)
                break
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:2000].decode("utf-8", "replace")
                rejected_format = exc.code in (400, 422) or "response_format" in detail
                if attempt == 0 and schema and rejected_format:
                    self._format_style = "json_object"
                    continue
                detail = detail[:300]
                raise ModelError(f"{self.base_url} answered {exc.code}: {detail}") from exc
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                raise ModelError(f"cannot reach {self.base_url}: {exc}") from exc
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelError(f"unexpected reply from {self.base_url}: {data!r:.200}") from exc
        usage = data.get("usage") or {}
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=time.perf_counter() - start,
        )

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """One chat completion per prompt, constrained by `schema`."""
        return [self._chat(p, schema) for p in prompts]

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """Not offered: chat endpoints do not expose next-token logits reliably."""
        raise ModelError("OpenAI-compatible endpoints do not support the decision path")

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """Not offered: `generate` returns whole verdicts already."""
        raise ModelError("OpenAI-compatible endpoints do not support the decision path")

    def count_tokens(self, text: str) -> int:
        """An estimate (the endpoint's tokenizer is unknown here): ~3.5 chars a token."""
        return max(1, round(len(text) / 3.5))

    def close(self) -> None:
        """Nothing held open between requests."""
