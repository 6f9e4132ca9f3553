"""Loading a base model for fine-tuning: 4-bit NF4 (QLoRA) on CUDA, full precision on CPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulnsight.errors import ConfigError, ModelError


@dataclass(frozen=True)
class BaseSource:
    """Where a base model's weights come from."""

    location: str  # directory or hub id for from_pretrained
    gguf_file: str | None  # file name inside `location` when loading a GGUF
    label: str  # what the model card calls it
    base_gguf: str  # what the scanner loads under the adapter ('default' or a path)


def resolve_base(spec: str) -> BaseSource:
    """'default' (embedded GGUF), a .gguf file, a Hugging Face directory, or a hub id."""
    from vulnsight.llm.models import EMBEDDED_FILE, embedded_model_path

    if spec in ("default", "embedded"):
        path = embedded_model_path()
        return BaseSource(str(path.parent), path.name, f"gemma-3-270m ({EMBEDDED_FILE})", "default")
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return BaseSource(str(path.parent), path.name, path.name, str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} is not a Hugging Face model directory (no config.json)")
        return BaseSource(str(path), None, path.name, "")
    if spec.count("/") == 1 and not spec.startswith((".", "/")):
        return BaseSource(spec, None, spec, "")
    raise ConfigError(f"cannot interpret base model {spec!r}")


@dataclass
class Loaded:
    """A model ready for adapters, with what the trainer needs to know about it."""

    model: Any
    tokenizer: Any
    device: str
    quantized: bool  # True: 4-bit NF4 base (QLoRA); False: full-precision weights
    note: str


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


def load_base(source: BaseSource, seed: int = 0, precision: str = "auto") -> Loaded:
    """Load tokenizer and model; QLoRA (NF4, double quantisation, bf16 compute) on CUDA.

    On the CPU, `precision` 'auto' keeps the frozen base in bf16 where the CPU has bf16
    units (AMX / AVX512-BF16: about 2x faster steps than fp32 here) and fp32 elsewhere;
    the LoRA weights themselves stay fp32 either way (PEFT upcasts adapters).
    """
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelError("training needs the extra: pip install 'vulnsight[train]'") from exc
    torch.manual_seed(seed)
    kwargs: dict[str, Any] = {}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of {source.label}: {exc}") from exc
    cuda = torch.cuda.is_available()
    quantized = False
    if cuda and not source.gguf_file:
        try:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.bfloat16,
            )
            quantized = True
        except ImportError:
            quantized = False
    bf16 = (cuda or cpu_has_bf16()) if precision == "auto" else precision == "bf16"
    dtype = torch.bfloat16 if bf16 else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source.location, dtype=dtype, device_map="auto" if cuda else None, **kwargs
        )
    except (OSError, ValueError, ImportError) as exc:
        raise ModelError(f"cannot load {source.label}: {exc}") from exc
    if quantized:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model, use_gradient_checkpointing=True
        )
        note = "QLoRA: 4-bit NF4 base weights (double quantisation), bf16 compute, CUDA"
    elif cuda:
        model.gradient_checkpointing_enable()  # type: ignore[no-untyped-call]
        note = (
            f"LoRA on {'bf16' if bf16 else 'fp32'} weights, CUDA "
            "(GGUF bases are dequantised; no 4-bit reload)"
        )
    elif bf16:
        note = "LoRA (fp32 adapters) on a bf16 base on the CPU: no CUDA GPU, so no 4-bit QLoRA"
    else:
        note = "LoRA on full-precision (fp32) weights on the CPU: no CUDA GPU, so no 4-bit QLoRA"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Loaded(model, tokenizer, "cuda" if cuda else "cpu", quantized, note)


def add_adapters(
    loaded: Loaded,
    rank: int,
    alpha: int,
    dropout: float,
    target_modules: tuple[str, ...],
    resume: Path | None = None,
) -> Any:
    """Wrap the model with fresh LoRA adapters, or the ones at `resume` (trainable)."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if resume is not None:
        adapter_dir = resume / "adapter" if (resume / "adapter").is_dir() else resume
        if not (adapter_dir / "adapter_config.json").is_file():
            raise ConfigError(f"{resume} holds no PEFT adapter (adapter_config.json)")
        return PeftModel.from_pretrained(loaded.model, str(adapter_dir), is_trainable=True)
    present = {name.rsplit(".", 1)[-1] for name, _ in loaded.model.named_modules()}
    targets = [t for t in target_modules if t in present]
    if not targets:
        raise ConfigError(f"none of {list(target_modules)} are modules of this model")
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(loaded.model, config)
