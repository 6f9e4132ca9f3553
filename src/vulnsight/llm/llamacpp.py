"""llama.cpp backend (llama-cpp-python) for GGUF models, tuned for CPU scanning.

Fast path, per function:
1. the shared prompt prefix is evaluated once and its KV cache kept;
2. the function's body (ending with the forced reply prefix ``{"vulnerability":``) is
   evaluated on top of it, and P(vulnerable) is read from the next-token logits of
   ``true`` against ``false``: one prompt evaluation, no sampling;
3. only for flagged functions, the CWE number and the line number are decoded greedily
   with the vocabulary masked to what the verdict schema allows there (digits, then the
   closing token), which is a grammar over a handful of tokens instead of 262k.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vulnsight.errors import ModelError
from vulnsight.llm.interface import Capabilities, Completion, Decision
from vulnsight.llm.prompt import Prompt
from vulnsight.llm.tokens import decision_tokens, flagged_completion, single_tokens

if TYPE_CHECKING:
    from llama_cpp import Llama

    from vulnsight.llm.head import DecisionHead


def _quiet() -> Any:
    """Silence llama.cpp's native stderr chatter while a model loads."""
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:  # pragma: no cover - private helper moved
        import contextlib

        return contextlib.nullcontext()
    return suppress_stdout_stderr(disable=False)


class LlamaCppBackend:
    """A GGUF model in-process through llama-cpp-python."""

    capabilities = Capabilities(supports_schema=True, supports_decision=True, local=True)

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = 8192 + 1024,
        n_threads: int | None = None,
        lora_path: str | Path | None = None,
        name: str | None = None,
        max_digits: int = 5,
        head_path: str | Path | None = None,
        threshold: float | None = None,
        language_thresholds: Mapping[str, float] | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - dependency is required
            raise ModelError("llama-cpp-python is not installed") from exc
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        env_threads = os.environ.get("VULNSIGHT_THREADS", "")
        threads = n_threads or (int(env_threads) if env_threads.isdigit() else 0)
        threads = threads or max(1, os.cpu_count() or 1)
        from vulnsight.llm.llamacpp_build import load_settings

        try:
            # llama.cpp prints load-time notes to fd 2 even when not verbose
            with _quiet(), load_settings() as build:
                self._llm: Llama = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_batch=512,
                    n_threads=threads,
                    n_threads_batch=threads,
                    lora_path=str(lora_path) if lora_path else None,
                    logits_all=False,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {path}: {exc}") from exc
        self.name = name or path.name
        self.n_ctx = n_ctx
        #: The flagging threshold this model was calibrated for (None: the default).
        self.default_threshold = threshold
        #: Per-language thresholds it was calibrated for (`math.inf`: reports nothing).
        self.language_thresholds = dict(language_thresholds or {})
        #: What ran, for reports (`stats.model`, SARIF).
        self.model_info = {
            "backend": "llamacpp",
            "base": str(path),
            "adapter": str(lora_path) if lora_path else "",
            "device": "cpu",
            "llama_cpp_build": " ".join(build["build"]),
            "extra_buffers": str(build["extra_buffers"]).lower(),
        }
        if head_path is not None:
            self.model_info["head"] = str(head_path)
        self._head: DecisionHead | None = None
        if head_path is not None:
            from vulnsight.llm.head import DecisionHead

            self._head = DecisionHead.load(Path(head_path))
        self._max_digits = max_digits
        self._prefix_text: str | None = None
        self._prefix_tokens: list[int] = []
        self._digits = self._single_tokens("0123456789")
        self._true_false = self._decision_tokens()

    # -- tokenisation helpers -------------------------------------------------------

    def _tok(self, text: str, bos: bool = False) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False))

    def _single_tokens(self, chars: str) -> dict[int, str]:
        return single_tokens(self._tok, chars)

    def _decision_tokens(self) -> tuple[list[int], int, int]:
        """Tokens forced after the reply prefix, then the first token of true/false."""
        return decision_tokens(self._tok)

    def count_tokens(self, text: str) -> int:
        """Exact token count under the model's tokenizer."""
        return len(self._tok(text))

    # -- KV cache of the shared prefix ---------------------------------------------

    def _eval_on_prefix(self, prefix: str, body_tokens: list[int]) -> None:
        """Evaluate `body_tokens` on top of the cached prefix (evaluating it if new)."""
        llm = self._llm
        if prefix != self._prefix_text:
            self._prefix_tokens = self._tok(prefix, bos=True)
            llm.reset()  # type: ignore[no-untyped-call]
            llm.eval(self._prefix_tokens)
            self._prefix_text = prefix
        total = len(self._prefix_tokens) + len(body_tokens)
        if total >= self.n_ctx:
            raise ModelError(f"prompt of {total} tokens exceeds the context of {self.n_ctx}")
        llm.n_tokens = len(self._prefix_tokens)  # eval() drops the KV cache past here
        llm.eval(body_tokens)

    def _last_logits(self) -> Any:
        import numpy as np

        n_vocab = self._llm.n_vocab()
        ptr = self._llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(n_vocab,))

    def _body_tokens(self, prompt: Prompt) -> list[int]:
        shared, _, _ = self._true_false
        return self._tok(prompt.body) + shared

    # -- Backend API -----------------------------------------------------------------

    def decision_logits(self, prompts: Sequence[Prompt], token_ids: Any) -> list[Any]:
        """The logits of `token_ids` at the decision point of each prompt (head features)."""
        rows = []
        for prompt in prompts:
            self._eval_on_prefix(prompt.prefix, self._body_tokens(prompt))
            rows.append(self._last_logits()[token_ids].astype("float64"))
        return rows

    @property
    def true_false_ids(self) -> tuple[int, int]:
        """Token ids of the first verdict token for true and false."""
        return self._true_false[1], self._true_false[2]

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """P(vulnerable) at the decision point: the model's own `true` vs `false`
        logits, or the trained decision head over the logits when one is loaded."""
        _, t_id, f_id = self._true_false
        out: list[Decision] = []
        for prompt in prompts:
            start = time.perf_counter()
            body = self._body_tokens(prompt)
            self._eval_on_prefix(prompt.prefix, body)
            logits = self._last_logits()
            if self._head is not None:
                p = float(self._head.predict(logits[self._head.token_ids]))
            else:
                lt, lf = float(logits[t_id]), float(logits[f_id])
                p = 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, lf - lt))))
            out.append(
                Decision(
                    p_vulnerable=p,
                    prompt_tokens=len(body),
                    seconds=time.perf_counter() - start,
                )
            )
        return out

    def _greedy_digits(self, stop_ids: set[int]) -> str:
        """Greedy-decode up to `max_digits` digits, masked to digits (and stop tokens
        once one digit is out); returns the digits."""
        digits = ""
        for _ in range(self._max_digits):
            logits = self._last_logits()
            allowed = list(self._digits) + (list(stop_ids) if digits else [])
            best = max(allowed, key=lambda i: float(logits[i]))
            if best in stop_ids:
                break
            digits += self._digits[best]
            self._llm.eval([best])
        return digits

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """CWE and line for prompts judged vulnerable, decoded under the schema's
        constraints; returns whole verdict JSON (confidence is set by the caller)."""
        out: list[Completion] = []
        quote = set(self._single_tokens('"'))
        for prompt in prompts:
            start = time.perf_counter()
            head = self._tok(prompt.body + ' true, "type": "CWE-')
            self._eval_on_prefix(prompt.prefix, head)
            cwe = self._greedy_digits(quote).lstrip("0") or "20"
            # the digits are in the KV cache already; only the text after them is new
            line_head = self._tok('", "line_number": ')
            self._llm.eval(line_head)
            stops = set(self._tok(",")[:1]) | set(self._tok("}")[:1])
            line = self._greedy_digits(stops) or "0"
            out.append(flagged_completion(cwe, line, len(head) + len(line_head), start))
        return out

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """Whole verdicts by sampling under a JSON-schema grammar (the slow, general
        path; the scanner prefers `decide` + `complete_flagged`)."""
        from llama_cpp.llama_grammar import LlamaGrammar

        grammar = LlamaGrammar.from_json_schema(json.dumps(schema)) if schema else None
        out: list[Completion] = []
        for prompt in prompts:
            start = time.perf_counter()
            tokens = self._tok(prompt.instruction + "\n", bos=True)
            res: Any = self._llm.create_completion(
                prompt=tokens, max_tokens=64, temperature=0.0, grammar=grammar
            )
            self._prefix_text = None  # create_completion manages the cache itself now
            usage = res.get("usage", {})
            out.append(
                Completion(
                    text=res["choices"][0]["text"],
                    prompt_tokens=int(usage.get("prompt_tokens", len(tokens))),
                    completion_tokens=int(usage.get("completion_tokens", 0)),
                    seconds=time.perf_counter() - start,
                )
            )
        return out

    def close(self) -> None:
        """Free the model."""
        self._llm.close()
