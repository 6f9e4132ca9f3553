"""Writing a trained model directory the scanner loads with `--model DIR`:
the PEFT adapter, the same adapter as a llama.cpp LoRA GGUF, a manifest and a model card."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vulnsight.errors import ModelError
from vulnsight.llm.prompt import PROMPT_VERSION

MANIFEST = "vulnsight-model.json"
LORA_GGUF = "adapter.gguf"
# PEFT keys, as saved ("...q_proj.lora_A.weight") or live ("...lora_A.default.weight").
_KEY = re.compile(r"^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[\w-]+)?\.weight$")


def _arch(model_type: str) -> Any:
    import gguf

    table = {
        "gemma3_text": gguf.MODEL_ARCH.GEMMA3,
        "gemma3": gguf.MODEL_ARCH.GEMMA3,
        "gemma2": gguf.MODEL_ARCH.GEMMA2,
        "gemma": gguf.MODEL_ARCH.GEMMA,
        "llama": gguf.MODEL_ARCH.LLAMA,
        "mistral": gguf.MODEL_ARCH.LLAMA,  # llama.cpp converts Mistral as llama
    }
    if model_type not in table:
        raise ModelError(f"no GGUF LoRA export for model type {model_type!r}")
    return table[model_type]


def _permute(w: Any, n_head: int, n_head_kv: int | None) -> Any:
    """llama.cpp's q/k row permutation for llama-architecture GGUFs."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def lora_to_gguf(state: Mapping[str, Any], model_config: Any, alpha: float, path: Path) -> int:
    """Write PEFT LoRA weights as a llama.cpp adapter GGUF; returns the tensor count."""
    import gguf
    import numpy as np

    arch = _arch(model_config.model_type)
    n_blocks = int(model_config.num_hidden_layers)
    names = gguf.get_tensor_name_map(arch, n_blocks)
    pairs: dict[str, dict[str, Any]] = {}
    for key, tensor in state.items():
        m = _KEY.match(key)
        if not m:
            continue
        pairs.setdefault(m.group(1), {})[m.group(2)] = tensor.detach().float().cpu().numpy()
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    count = 0
    for module, ab in sorted(pairs.items()):
        target = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if target is None or "A" not in ab or "B" not in ab:
            raise ModelError(f"cannot map adapter module {module} to a GGUF tensor")
        a, b = ab["A"], ab["B"]
        if arch == gguf.MODEL_ARCH.LLAMA and module.endswith(("q_proj", "k_proj")):
            heads = int(model_config.num_attention_heads)
            kv = int(getattr(model_config, "num_key_value_heads", heads))
            b = _permute(b, heads, heads if module.endswith("q_proj") else kv)
        base = target.removesuffix(".weight")
        writer.add_tensor(base + ".weight.lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(base + ".weight.lora_b", np.ascontiguousarray(b, dtype=np.float32))
        count += 2
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count


def write_model_dir(
    out: Path,
    adapter_dir: Path,
    model_config: Any,
    alpha: float,
    base_gguf: str,
    threshold: float,
    card: str,
    extra: Mapping[str, Any],
) -> Path:
    """Assemble `out/` from the chosen PEFT adapter: adapter/, adapter.gguf, manifest, card."""
    from safetensors.torch import load_file

    final = out / "adapter"
    if adapter_dir.resolve() != final.resolve():
        if final.exists():
            shutil.rmtree(final)
        shutil.copytree(adapter_dir, final)
    state = load_file(str(final / "adapter_model.safetensors"))
    manifest: dict[str, Any] = {
        "name": out.name,
        "prompt_version": PROMPT_VERSION,
        "threshold": round(float(threshold), 4),
        "adapter": "adapter",
        **dict(extra),
    }
    if base_gguf:
        lora_to_gguf(state, model_config, alpha, out / LORA_GGUF)
        manifest["base_gguf"] = base_gguf
        manifest["lora_gguf"] = LORA_GGUF
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "MODEL_CARD.md").write_text(card)
    return out
