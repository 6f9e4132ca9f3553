"""Training settings; each field's help text is also the CLI's."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vulnsight.errors import ConfigError

#: LoRA targets: every attention and MLP projection of Llama/Mistral/Gemma-style blocks.
ALL_PROJECTIONS: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)


#: `--precision` choices: the frozen base's dtype (adapters are fp32 either way).
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp32")
#: `--grad-checkpointing` choices.
CHECKPOINTING: tuple[str, ...] = ("auto", "on", "off")
#: Examples per optimiser step when neither batch size nor accumulation is given.
EXAMPLES_PER_STEP = 8


def _f(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help}, **kw)


@dataclass(frozen=True)
class TrainConfig:
    """How `vulnsight train` fine-tunes a base model into a scanner model directory."""

    base: str = _f("default", "Base: 'default' (embedded GGUF), a .gguf, an HF dir or a hub id.")
    data: tuple[Path, ...] = _f((), "JSONL files in the shared record schema.")
    dev_data: tuple[Path, ...] = _f(
        (), "Development JSONL files; when given, --data is all training (no project split)."
    )
    out: Path = _f(Path("vulnsight-model"), "Output directory (adapter, GGUF, model card).")
    epochs: float = _f(1.0, "Passes over the training split (fractions allowed).")
    lr: float = _f(2e-4, "Peak learning rate (linear warm-up, then linear decay).")
    rank: int = _f(16, "LoRA rank r.")
    alpha: int = _f(32, "LoRA alpha (scaling = alpha / r).")
    dropout: float = _f(0.05, "LoRA dropout.")
    precision: str = _f(
        "auto", "Weights' dtype: auto (bf16 on CUDA and on CPUs with bf16 units), bf16, fp32."
    )
    max_length: int = _f(8192, "Most tokens per example (prompt + verdict); contexts cut to fit.")
    batch_size: int | None = _f(
        None, "Examples per forward pass, length-bucketed (default: 1 on the CPU, 8 on CUDA)."
    )
    grad_accum: int | None = _f(
        None, "Forward passes per optimiser step (default: 8 examples per step in all)."
    )
    grad_checkpointing: str = _f(
        "auto", "Gradient checkpointing: auto (on CUDA only when memory needs it), on, off."
    )
    base_gguf: Path | None = _f(
        None,
        "A GGUF conversion of the same (Hugging Face) base: the directory then also "
        "runs on llama.cpp (transformers:/llamacpp: choose at scan time).",
    )
    decision_weight: float = _f(4.0, "Loss weight of the true/false token against the rest.")
    dev_fraction: float = _f(0.15, "Share of projects held out for development evaluation.")
    eval_every: int = _f(50, "Optimiser steps between development evaluations.")
    max_dev: int = _f(300, "Most development examples evaluated each time.")
    max_train: int | None = _f(None, "Use at most this many training examples (seeded sample).")
    max_minutes: float | None = _f(None, "Stop cleanly after this many minutes (checkpoint kept).")
    seed: int = _f(0, "Random seed for sampling, shuffling and LoRA init.")
    resume: Path | None = _f(None, "Continue from this adapter (a model directory or PEFT dir).")
    exclude_sources: tuple[str, ...] = _f(
        ("semgrep_rules_tests",), "Record sources never trained on (licence or evaluation)."
    )
    target_modules: tuple[str, ...] = _f(ALL_PROJECTIONS, "Module names that get LoRA adapters.")

    def __post_init__(self) -> None:
        if not self.data:
            raise ConfigError("train needs at least one --data file")
        for path in (*self.data, *self.dev_data):
            if not Path(path).is_file():
                raise ConfigError(f"data file not found: {path}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be auto, bf16 or fp32, not {self.precision!r}")
        if self.grad_checkpointing not in CHECKPOINTING:
            raise ConfigError("grad-checkpointing must be auto, on or off")
        if (self.batch_size is not None and self.batch_size < 1) or (
            self.grad_accum is not None and self.grad_accum < 1
        ):
            raise ConfigError("batch-size and grad-accum must be positive")
        if self.base_gguf is not None and not Path(self.base_gguf).is_file():
            raise ConfigError(f"--base-gguf file not found: {self.base_gguf}")
        if self.rank < 1 or self.alpha < 1:
            raise ConfigError("rank and alpha must be positive")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError("dev-fraction must be between 0 and 1")
        if self.max_length < 512:
            raise ConfigError("max-length must be at least 512")
        if self.epochs <= 0 or self.lr <= 0:
            raise ConfigError("epochs and lr must be positive")

    def batching(self, device: str) -> tuple[int, int]:
        """(examples per forward pass, forward passes per optimiser step) on `device`:
        one example at a time on the CPU (its measured best), 8 on CUDA; 8 examples
        per step either way unless given."""
        batch = self.batch_size or (1 if device == "cpu" else 8)
        accum = self.grad_accum or max(1, EXAMPLES_PER_STEP // batch)
        return batch, accum

    def to_dict(self) -> dict[str, Any]:
        """Plain data, saved beside every result (paths as strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            out[f.name] = value
        return out


def help_of(name: str) -> str:
    """The help text of a TrainConfig field."""
    for f in fields(TrainConfig):
        if f.name == name:
            return str(f.metadata.get("help", ""))
    raise KeyError(name)
