"""A base model cut down to travel: the tensors of a GGUF (or a Hugging Face model) in
their own quantised blocks, the embedding reduced to the token ids the data uses.

A lent GPU machine takes 64 MiB per call and reaches no network, and the embedded
Gemma 3 270M is 235 MiB of tensors, 170 of them the 262k-row embedding. Training and
scoring only ever look up the embedding rows of tokens that occur in the (pre-tokenised)
data and read the logits of the verdict's tokens, so the packed base keeps those rows
alone and renumbers the vocabulary (`keep[i]` is the original id of packed id `i`). The
transformer blocks keep their exact GGUF blocks (Q4_K, Q5_0, Q6_K, Q8_0), dequantised on
the device the way transformers dequantises the GGUF for `vulnsight train --base
default`, so a LoRA trained there applies unchanged to the full model (adapters live on
the attention and MLP projections, whose shapes do not depend on the vocabulary).

What differs from training on the full vocabulary: the softmax of the loss is taken over
the kept tokens only (the verdict's own tokens are always kept). P(vulnerable) compares
the ' true' and ' false' logits alone, so scores are the same.

The pack is a plain ``.npz`` (``raw:<hf name>`` uint8 blocks, ``meta`` JSON) that needs
numpy and gguf's numpy dequantiser on the device, and nothing else of vulnsight's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "join_parts",
    "kept_vocab",
    "load_packed_model",
    "pack_gguf_base",
    "pack_hf_base",
    "split_parts",
]

#: ggml type id of plain float32 tensors (norms, and every tensor of a packed HF base).
F32 = 0


def kept_vocab(used: Iterable[int], always: Iterable[int] = ()) -> list[int]:
    """The sorted original token ids a packed base keeps."""
    return sorted({int(t) for t in used} | {int(t) for t in always})


def _gemma_hf_names(config: Any) -> dict[str, str]:
    """GGUF tensor name -> Hugging Face parameter name for a Gemma-3-text model."""
    import gguf

    n = int(config.num_hidden_layers)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, n)
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    out: dict[str, str] = {}
    for key in model.state_dict():
        if key == "lm_head.weight":  # tied to the embedding
            continue
        stem, suffix = key.rsplit(".", 1)
        target = names.get_name(stem)
        if target is None:
            raise ValueError(f"no GGUF tensor for {key}")
        out[f"{target}.{suffix}"] = key
    return out


def pack_gguf_base(gguf_path: Path, keep: Sequence[int], out: Path) -> dict[str, Any]:
    """Write the packed base of a Gemma 3 GGUF to `out` (.npz); returns its meta."""
    import gguf
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    hf_names = _gemma_hf_names(config)
    reader = gguf.GGUFReader(str(gguf_path))
    arrays: dict[str, np.ndarray] = {}
    tensors: dict[str, dict[str, Any]] = {}
    rows = np.asarray(keep, dtype=np.int64)
    for t in reader.tensors:
        if t.name not in hf_names:
            raise ValueError(f"unexpected tensor {t.name} in {gguf_path.name}")
        key = hf_names[t.name]
        data = np.asarray(t.data)
        shape = [int(d) for d in reversed(t.shape.tolist())]  # ggml order -> row-major
        if t.name == "token_embd.weight":
            data = data[rows]
            shape = [len(rows), shape[1]]
        tensors[key] = {
            "qtype": int(t.tensor_type),
            "shape": shape,
            # Gemma's GGUF stores RMSNorm weights as (1 + w); transformers subtracts 1.
            "minus_one": key.endswith("norm.weight"),
        }
        arrays[f"raw:{key}"] = np.ascontiguousarray(data).view(np.uint8)
    config.vocab_size = len(keep)
    meta = {
        "format": "vulnsight-packed-base/1",
        "source": gguf_path.name,
        "config": config.to_dict(),
        "keep": [int(k) for k in keep],
        "tensors": tensors,
    }
    _save(out, arrays, meta)
    return meta


def pack_hf_base(model_dir: Path, keep: Sequence[int], out: Path) -> dict[str, Any]:
    """Write the packed base of a Hugging Face model directory (float32 tensors; the
    tiny models of tests and `--cpu-tiny` runs) to `out`; returns its meta."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    rows = torch.as_tensor(list(keep), dtype=torch.long)
    arrays: dict[str, np.ndarray] = {}
    tensors: dict[str, dict[str, Any]] = {}
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for key, value in model.state_dict().items():
        if key == "lm_head.weight" and tied:
            continue
        if key in ("model.embed_tokens.weight", "lm_head.weight"):
            value = value[rows]
        data = value.detach().float().contiguous().numpy()
        tensors[key] = {"qtype": F32, "shape": list(data.shape), "minus_one": False}
        arrays[f"raw:{key}"] = data.view(np.uint8).reshape(-1)
    config.vocab_size = len(keep)
    meta = {
        "format": "vulnsight-packed-base/1",
        "source": model_dir.name,
        "config": config.to_dict(),
        "keep": [int(k) for k in keep],
        "tensors": tensors,
    }
    _save(out, arrays, meta)
    return meta


def _save(out: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, meta=blob, **arrays)  # type: ignore[arg-type]  # quantised blocks do not compress
    tmp.replace(out)


def read_meta(path: Path) -> dict[str, Any]:
    """The meta of a packed base."""
    with np.load(path) as z:
        return dict(json.loads(bytes(z["meta"]).decode()))


def dequantize(raw: np.ndarray, qtype: int, shape: Sequence[int]) -> np.ndarray:
    """A tensor's float32 values from its stored blocks."""
    if qtype == F32:
        return raw.view(np.float32).reshape(shape)
    import gguf

    q = gguf.GGMLQuantizationType(qtype)
    block, size = gguf.GGML_QUANT_SIZES[q]
    rows = raw.reshape(int(np.prod(shape[:-1])), shape[-1] // block * size)
    return np.asarray(gguf.quants.dequantize(rows, q), dtype=np.float32).reshape(shape)


def load_packed_model(
    path: Path, dtype: Any = None, device: str = "cpu"
) -> tuple[Any, dict[str, Any]]:
    """The causal LM of a packed base (vocabulary renumbered) and its meta."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    meta = read_meta(path)
    cfg = dict(meta["config"])
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    state: dict[str, Any] = {}
    with np.load(path) as z:
        for key, info in meta["tensors"].items():
            values = dequantize(z[f"raw:{key}"], int(info["qtype"]), info["shape"])
            if info["minus_one"]:
                values = values - 1.0
            state[key] = torch.from_numpy(np.ascontiguousarray(values))
    tied = bool(getattr(config, "tie_word_embeddings", False))
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not (tied and k == "lm_head.weight")]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"packed base does not fit its config: {missing[:3]} {result.unexpected_keys[:3]}"
        )
    if tied:
        model.tie_weights()
    model = model.to(dtype=dtype or torch.float32, device=device)
    return model, meta


def split_parts(path: Path, part_bytes: int) -> list[Path]:
    """Cut `path` into `path.partNN` files of at most `part_bytes`, plus a
    `path.parts.json` listing them with sizes and SHA-256; returns the part paths."""
    data_len = path.stat().st_size
    parts: list[Path] = []
    listing = []
    with path.open("rb") as fh:
        index = 0
        while fh.tell() < data_len:
            chunk = fh.read(part_bytes)
            part = path.with_name(f"{path.name}.part{index:02d}")
            part.write_bytes(chunk)
            listing.append({"name": part.name, "bytes": len(chunk), "sha256": _sha(chunk)})
            parts.append(part)
            index += 1
    whole = {"name": path.name, "bytes": data_len, "sha256": _sha(path.read_bytes())}
    path.with_name(path.name + ".parts.json").write_text(
        json.dumps({"whole": whole, "parts": listing}, indent=1) + "\n"
    )
    return parts


def join_parts(listing: Path, search: Sequence[Path], out: Path) -> Path:
    """Reassemble a split file from parts found in any of the `search` directories;
    every part and the whole are checked against their SHA-256. Raises FileNotFoundError
    naming the missing parts (a machine given back between staging calls loses them)."""
    spec = json.loads(listing.read_text())
    found: list[Path] = []
    missing = []
    for part in spec["parts"]:
        hits = [d / part["name"] for d in search if (d / part["name"]).is_file()]
        if not hits:
            missing.append(part["name"])
        else:
            found.append(hits[0])
    if missing:
        raise FileNotFoundError(f"base parts missing: {', '.join(missing)}")
    digest = hashlib.sha256()
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("wb") as fh:
        for part, path in zip(spec["parts"], found, strict=True):
            chunk = path.read_bytes()
            if _sha(chunk) != part["sha256"]:
                raise ValueError(f"{path} is damaged (SHA-256 differs)")
            digest.update(chunk)
            fh.write(chunk)
    if digest.hexdigest() != spec["whole"]["sha256"]:
        raise ValueError("reassembled base differs from the packed one")
    tmp.replace(out)
    return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
