"""transformers backend: any Hugging Face causal LM (a directory, a hub id, or a GGUF that
transformers dequantises) plus an optional PEFT adapter, on CUDA or the CPU.

It asks exactly what the llama.cpp backend asks, the way `vulnsight train` trained:
the prompt is BOS + the shared prefix + the function's body ending with the forced
reply prefix ``{"vulnerability":``; P(vulnerable) is the softmax of the next-token
logits of ``true`` against ``false``; flagged functions get their CWE number and line
decoded greedily with the vocabulary masked to digits and the schema's stop tokens.

Functions are batched by length (sorted, left-padded, with attention masks and
positions that start at 0 for every row) and only the last position's logits are
computed (`logits_to_keep=1`), so the 262k-wide output layer runs once per function.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vulnsight.errors import ModelError
from vulnsight.llm.interface import Capabilities, Completion, Decision
from vulnsight.llm.prompt import Prompt
from vulnsight.llm.tokens import decision_tokens, flagged_completion, single_tokens

#: Functions per forward pass by device; a batch is also capped by padded tokens.
DEFAULT_BATCH = {"cuda": 32, "cpu": 4}
#: Most padded tokens in one batch (keeps long 8k contexts from exhausting memory).
MAX_BATCH_TOKENS = {"cuda": 65536, "cpu": 8192}
DTYPES = ("auto", "bf16", "fp32")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX), so bf16 beats fp32."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def pick_device(requested: str, cuda_available: bool) -> str:
    """'auto' is CUDA when there is one, else the CPU; asking for CUDA without one fails."""
    if requested == "auto":
        return "cuda" if cuda_available else "cpu"
    if requested.startswith("cuda") and not cuda_available:
        raise ModelError(f"device {requested!r} requested but torch sees no CUDA GPU")
    return requested


def pick_dtype(requested: str, device: str, cpu_bf16: bool) -> str:
    """'auto' is bf16 on GPUs and on CPUs with bf16 units, fp32 elsewhere."""
    if requested not in DTYPES:
        raise ModelError(f"dtype must be one of {', '.join(DTYPES)}, not {requested!r}")
    if requested != "auto":
        return requested
    return "bf16" if device.startswith("cuda") or cpu_bf16 else "fp32"


def length_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (sorted), each at most
    `batch_size` rows and `max_tokens` padded tokens (a single longer row stands alone)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[i]  # sorted ascending: the newest row is the widest
        if current and (len(current) >= batch_size or width * (len(current) + 1) > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def left_pad(
    rows: Sequence[Sequence[int]], pad_id: int
) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """Left-padded ids, attention masks, and position ids that count from 0 at each
    row's first real token (pads get position 0 and are masked out), so a padded row
    computes what it computes alone and its last position is its own last token."""
    width = max((len(r) for r in rows), default=0)
    ids, mask, pos = [], [], []
    for r in rows:
        pad = width - len(r)
        ids.append([pad_id] * pad + list(r))
        mask.append([0] * pad + [1] * len(r))
        pos.append([0] * pad + list(range(len(r))))
    return ids, mask, pos


def _sigmoid_diff(lt: float, lf: float) -> float:
    return 1.0 / (1.0 + math.exp(max(-60.0, min(60.0, lf - lt))))


def load_tokenizer(auto: Any, model: str | Path, gguf_file: str | None) -> Any:
    """The model's tokenizer; one read out of a GGUF (a minute for Gemma's 262k
    vocabulary) is kept beside the assembled models and reused while the GGUF is unchanged."""
    if not gguf_file:
        return auto.from_pretrained(str(model))
    from vulnsight.llm.models import cache_dir

    gguf = Path(model) / gguf_file
    try:
        st = gguf.stat()
    except OSError:
        return auto.from_pretrained(str(model), gguf_file=gguf_file)
    saved = cache_dir() / "tokenizers" / f"{gguf.stem}-{st.st_size}-{st.st_mtime_ns}"
    if (saved / "tokenizer_config.json").is_file():
        try:
            return auto.from_pretrained(str(saved))
        except (OSError, ValueError):
            pass  # a damaged copy: read the GGUF again
    tok = auto.from_pretrained(str(model), gguf_file=gguf_file)
    with contextlib.suppress(OSError):  # a read-only cache costs the slow read next time
        tok.save_pretrained(str(saved))
    return tok


class TransformersBackend:
    """A Hugging Face causal LM (+ optional PEFT adapter) run in-process by transformers."""

    def __init__(
        self,
        model: str | Path,
        *,
        gguf_file: str | None = None,
        adapter: str | Path | None = None,
        name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | None = None,
        max_tokens: int = 8192 + 1024,
        max_digits: int = 5,
        threshold: float | None = None,
        language_thresholds: Mapping[str, float] | None = None,
    ) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise ModelError(
                "the transformers backend needs the extra: pip install 'vulnsight[train]'"
            ) from exc
        self._torch = torch
        self.device = pick_device(device, torch.cuda.is_available())
        # A GGUF stays packed in transformers and its kernels compute in fp32 on the CPU.
        cpu_bf16 = cpu_has_bf16() and not gguf_file
        self.dtype = pick_dtype(dtype, self.device, cpu_bf16)
        env_threads = os.environ.get("VULNSIGHT_THREADS", "")
        if self.device == "cpu" and env_threads.isdigit() and int(env_threads) > 0:
            torch.set_num_threads(int(env_threads))
        where = f"{model}" + (f" ({gguf_file})" if gguf_file else "")
        kw: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
        try:
            self._tok = load_tokenizer(AutoTokenizer, model, gguf_file)
            net: Any = AutoModelForCausalLM.from_pretrained(
                str(model),
                dtype=torch.bfloat16 if self.dtype == "bf16" else torch.float32,
                **kw,
            )
        except (OSError, ValueError, ImportError, KeyError, RuntimeError) as exc:
            raise ModelError(f"transformers could not load {where}: {exc}") from exc
        if adapter is not None:
            try:
                from peft import PeftModel

                net = PeftModel.from_pretrained(net, str(adapter))
            except ImportError as exc:
                raise ModelError("adapters need peft: pip install 'vulnsight[train]'") from exc
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelError(f"cannot apply the adapter {adapter} to {where}: {exc}") from exc
        self._net: Any = net.to(self.device).eval()
        # transformers 5 renamed `past_key_values` to `cache` (argument and output).
        plain = net.get_base_model() if hasattr(net, "get_base_model") else net
        params = inspect.signature(plain.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self.name = name or Path(str(model)).name
        self.max_tokens = max_tokens
        self.batch_size = batch_size or DEFAULT_BATCH["cuda" if self.device != "cpu" else "cpu"]
        self._max_batch_tokens = MAX_BATCH_TOKENS["cuda" if self.device != "cpu" else "cpu"]
        #: Functions per `decide` call this backend batches (the model detector reads it).
        self.preferred_batch = self.batch_size
        self.capabilities = Capabilities(
            supports_schema=True,
            supports_decision=True,
            local=True,
            preferred_batch=self.batch_size,
            extra={"device": self.device, "dtype": self.dtype},
        )
        #: The flagging threshold this model was calibrated for (None: the default).
        self.default_threshold = threshold
        #: Per-language thresholds it was calibrated for (`math.inf`: reports nothing).
        self.language_thresholds = dict(language_thresholds or {})
        #: What ran, for reports (`stats.model`, SARIF).
        self.model_info = {
            "backend": "transformers",
            "base": where,
            "adapter": str(adapter) if adapter is not None else "",
            "device": self.device,
            "dtype": self.dtype,
        }
        self._max_digits = max_digits
        tok = self._tok
        self._bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self._pad = int(pad) if pad is not None else 0
        self._digits = self._single_tokens("0123456789")
        self._true_false = self._decision_tokens()
        self._prefix_text: str | None = None
        self._prefix_ids: list[int] = []

    # -- tokenisation, as `vulnsight train` encodes and llama.cpp evaluates ------------

    def _ids(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False))

    def _single_tokens(self, chars: str) -> dict[int, str]:
        return single_tokens(self._ids, chars)

    def _decision_tokens(self) -> tuple[list[int], int, int]:
        """Tokens forced after the reply prefix, then the first token of true/false."""
        return decision_tokens(self._ids)

    def _prefix(self, prefix: str) -> list[int]:
        if prefix != self._prefix_text:
            self._prefix_ids = self._bos + self._ids(prefix)
            self._prefix_text = prefix
        return self._prefix_ids

    def _prompt_ids(self, prompt: Prompt, tail: str = "") -> list[int]:
        ids = self._prefix(prompt.prefix) + self._ids(prompt.body + tail)
        if not tail:
            ids += self._true_false[0]
        if len(ids) >= self.max_tokens:
            raise ModelError(
                f"prompt of {len(ids)} tokens exceeds the context of {self.max_tokens}"
            )
        return ids

    def count_tokens(self, text: str) -> int:
        """Exact token count under the model's tokenizer."""
        return len(self._ids(text))

    @property
    def true_false_ids(self) -> tuple[int, int]:
        """Token ids of the first verdict token for true and false."""
        return self._true_false[1], self._true_false[2]

    # -- batched forward ------------------------------------------------------------

    def last_logits(self, rows: Sequence[Sequence[int]]) -> Any:
        """Next-token logits (float32, on the CPU) after each row, one left-padded batch."""
        torch = self._torch
        ids, mask, pos = left_pad(rows, self._pad)
        dev = self.device
        with torch.inference_mode():
            out = self._net(
                input_ids=torch.tensor(ids, device=dev),
                attention_mask=torch.tensor(mask, device=dev),
                position_ids=torch.tensor(pos, device=dev),
                logits_to_keep=1,
                use_cache=False,
            )
        return out.logits[:, -1].float().cpu()

    def decide(self, prompts: Sequence[Prompt]) -> list[Decision]:
        """P(vulnerable) per prompt: softmax of the `true`/`false` logits at the decision
        point, computed in length-sorted batches."""
        rows = [self._prompt_ids(p) for p in prompts]
        _, t_id, f_id = self._true_false
        out: list[Decision | None] = [None] * len(rows)
        for batch in length_batches(
            [len(r) for r in rows], self.batch_size, self._max_batch_tokens
        ):
            start = time.perf_counter()
            logits = self.last_logits([rows[i] for i in batch])
            each = (time.perf_counter() - start) / len(batch)
            for row, i in enumerate(batch):
                p = _sigmoid_diff(float(logits[row, t_id]), float(logits[row, f_id]))
                out[i] = Decision(p_vulnerable=p, prompt_tokens=len(rows[i]), seconds=each)
        return [d for d in out if d is not None]

    # -- masked greedy decoding of CWE and line for flagged functions ----------------

    def _step(self, ids: Sequence[int], cache: Any) -> tuple[Any, Any]:
        torch = self._torch
        with torch.inference_mode():
            out = self._net(
                input_ids=torch.tensor([list(ids)], device=self.device),
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_kw: cache},
            )
        return out.logits[0, -1].float().cpu(), getattr(out, self._cache_kw)

    def _greedy_digits(self, logits: Any, cache: Any, stop_ids: set[int]) -> tuple[str, Any, Any]:
        digits = ""
        for _ in range(self._max_digits):
            allowed = list(self._digits) + (list(stop_ids) if digits else [])
            best = max(allowed, key=lambda i: float(logits[i]))
            if best in stop_ids:
                break
            digits += self._digits[best]
            logits, cache = self._step([best], cache)
        return digits, logits, cache

    def complete_flagged(self, prompts: Sequence[Prompt]) -> list[Completion]:
        """CWE and line for prompts judged vulnerable, decoded under the schema's
        constraints; returns whole verdict JSON (confidence is set by the caller)."""
        out: list[Completion] = []
        quote = set(self._single_tokens('"'))
        stops = set(self._ids(",")[:1]) | set(self._ids("}")[:1])
        for prompt in prompts:
            start = time.perf_counter()
            head = self._prompt_ids(prompt, ' true, "type": "CWE-')
            logits, cache = self._step(head, None)
            cwe, logits, cache = self._greedy_digits(logits, cache, quote)
            cwe = cwe.lstrip("0") or "20"
            line_head = self._ids(f'{cwe}", "line_number": ')
            logits, cache = self._step(line_head, cache)
            line, _, _ = self._greedy_digits(logits, cache, stops)
            out.append(flagged_completion(cwe, line, len(head) + len(line_head), start))
        return out

    def generate(
        self, prompts: Sequence[Prompt], schema: dict[str, Any] | None = None
    ) -> list[Completion]:
        """Whole verdicts, valid under the verdict schema by construction: the decision,
        then CWE and line for those judged vulnerable (P >= 0.5)."""
        decisions = self.decide(prompts)
        flagged = [i for i, d in enumerate(decisions) if d.p_vulnerable >= 0.5]
        done = dict(zip(flagged, self.complete_flagged([prompts[i] for i in flagged]), strict=True))
        out: list[Completion] = []
        for i, d in enumerate(decisions):
            if i in done:
                verdict = json.loads(done[i].text) | {"confidence": round(d.p_vulnerable, 4)}
            else:
                verdict = {
                    "vulnerability": False,
                    "type": "none",
                    "line_number": 0,
                    "confidence": round(1.0 - d.p_vulnerable, 4),
                }
            seconds = d.seconds + (done[i].seconds if i in done else 0.0)
            out.append(Completion(json.dumps(verdict), d.prompt_tokens, 0, seconds))
        return out

    def close(self) -> None:
        """Drop the model (and the GPU memory it holds)."""
        self._net = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
