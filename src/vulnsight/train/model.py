"""Loading a base model for fine-tuning: 4-bit NF4 (QLoRA) on CUDA, full precision on CPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulnsight.errors import ConfigError, ModelError
from vulnsight.llm.hf import cpu_has_bf16, load_tokenizer

__all__ = ["BaseSource", "Loaded", "add_adapters", "cpu_has_bf16", "load_base", "resolve_base"]


@dataclass(frozen=True)
class BaseSource:
    """Where a base model's weights come from."""

    location: str  # directory or hub id for from_pretrained
    gguf_file: str | None  # file name inside `location` when loading a GGUF
    label: str  # what the model card calls it
    base_gguf: str  # what the scanner loads under the adapter ('default' or a path)

    def manifest_entry(self) -> dict[str, str]:
        """How the manifest's `base_model` names these weights for the transformers
        backend ('default' is the embedded GGUF; directories are absolute)."""
        if self.base_gguf == "default":
            return {"location": "default"}
        entry = {"location": self.location}
        if self.gguf_file:
            entry["gguf_file"] = self.gguf_file
        return entry


def resolve_base(spec: str) -> BaseSource:
    """'default' (embedded GGUF), a .gguf file, a Hugging Face directory, or a hub id."""
    from vulnsight.llm.models import EMBEDDED_FILE, embedded_model_path

    if spec in ("default", "embedded"):
        path = embedded_model_path()
        return BaseSource(str(path.parent), path.name, f"gemma-3-270m ({EMBEDDED_FILE})", "default")
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        resolved = path.resolve()
        return BaseSource(str(resolved.parent), path.name, path.name, str(resolved))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} is not a Hugging Face model directory (no config.json)")
        return BaseSource(str(path.resolve()), None, path.name, "")
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


def bitsandbytes_status() -> tuple[bool, str]:
    """Whether 4-bit QLoRA can run: bitsandbytes installed *and* importable (importing
    `transformers.BitsAndBytesConfig` succeeds without it, so that proves nothing)."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        return False, "bitsandbytes is not installed"
    try:
        importlib.import_module("bitsandbytes")
    except Exception as exc:  # a broken CUDA setup raises anything from its import
        return False, f"bitsandbytes does not import ({type(exc).__name__}: {exc})"
    return True, ""


@dataclass(frozen=True)
class LoadPlan:
    """How the base is loaded for training."""

    quantized: bool  # 4-bit NF4 (QLoRA)
    bf16: bool  # the frozen weights' dtype (bf16, else fp32); adapters are fp32
    note: str  # what the CLI and the model card say


def plan_loading(
    cuda: bool, gguf: bool, precision: str, bnb: tuple[bool, str], cpu_bf16: bool | None = None
) -> LoadPlan:
    """QLoRA on CUDA when bitsandbytes works (and the base is not a GGUF, which
    transformers dequantises), else LoRA on bf16 weights on CUDA with a note saying
    why; on the CPU the current behaviour: bf16 base where the CPU has bf16 units."""
    if cuda:
        bf16 = precision != "fp32"
        if not gguf and bnb[0] and precision != "fp32":
            note = "QLoRA: 4-bit NF4 base weights (double quantisation), bf16 compute, CUDA"
            return LoadPlan(True, True, note)
        why = (
            "GGUF bases are dequantised; no 4-bit reload"
            if gguf
            else "fp32 asked for"
            if precision == "fp32"
            else f"{bnb[1]}; pip install 'vulnsight[qlora]' for 4-bit QLoRA"
        )
        return LoadPlan(False, bf16, f"LoRA on {'bf16' if bf16 else 'fp32'} weights, CUDA ({why})")
    has_bf16 = cpu_has_bf16() if cpu_bf16 is None else cpu_bf16
    bf16 = has_bf16 if precision == "auto" else precision == "bf16"
    if bf16:
        note = "LoRA (fp32 adapters) on a bf16 base on the CPU: no CUDA GPU, so no 4-bit QLoRA"
    else:
        note = "LoRA on full-precision (fp32) weights on the CPU: no CUDA GPU, so no 4-bit QLoRA"
    return LoadPlan(False, bf16, note)


def activation_bytes(model_config: Any, batch_tokens: int) -> int:
    """A rough size of what the backward pass keeps per batch in bf16: per token and
    layer about 12 hidden-wide and 3 MLP-wide tensors (attention by SDPA keeps no
    seq x seq matrix). An estimate to decide on checkpointing, not a measurement."""
    hidden = int(getattr(model_config, "hidden_size", 0) or 0)
    inter = int(getattr(model_config, "intermediate_size", 4 * hidden) or 4 * hidden)
    layers = int(getattr(model_config, "num_hidden_layers", 0) or 0)
    return batch_tokens * layers * (24 * hidden + 6 * inter)


def wants_checkpointing(
    mode: str, device: str, model_config: Any, batch_tokens: int, free_bytes: int | None
) -> bool:
    """'on'/'off' as asked; 'auto': only on CUDA, and only when the activations of the
    widest batch would take more than half the GPU memory still free (the CPU path
    keeps its behaviour: no checkpointing)."""
    if mode in ("on", "off"):
        return mode == "on"
    if device != "cuda" or free_bytes is None:
        return False
    return activation_bytes(model_config, batch_tokens) > free_bytes // 2


def enable_checkpointing(model: Any) -> None:
    """Gradient checkpointing that still lets gradients reach adapters on a frozen base."""
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()


def _to_cuda(model: Any) -> Any:
    return model.to("cuda")


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
        # A GGUF's tokenizer is read once and cached (a minute for Gemma's vocabulary).
        tokenizer = load_tokenizer(AutoTokenizer, source.location, source.gguf_file)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of {source.label}: {exc}") from exc
    cuda = torch.cuda.is_available()
    plan = plan_loading(cuda, bool(source.gguf_file), precision, bitsandbytes_status())
    dtype = torch.bfloat16 if plan.bf16 else torch.float32
    if plan.quantized:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(source.location, dtype=dtype, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise ModelError(f"cannot load {source.label}: {exc}") from exc
    if plan.quantized:
        from peft import prepare_model_for_kbit_training

        # Gradient checkpointing is switched on later, only if memory needs it.
        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model, use_gradient_checkpointing=False
        )
    elif cuda:
        model = _to_cuda(model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Loaded(model, tokenizer, "cuda" if cuda else "cpu", plan.quantized, plan.note)


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
