"""`--model DIR` resolves to the runtime that runs exactly what was trained, or fails
saying why: never a silent fallback to another model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vulnsight.errors import ConfigError
from vulnsight.llm.models import resolve


def _model_dir(root: Path, manifest: dict, adapter_base: str | None = None) -> Path:
    out = root / "model"
    out.mkdir()
    (out / "vulnsight-model.json").write_text(json.dumps({"name": "mine", **manifest}))
    if adapter_base is not None:
        (out / "adapter").mkdir()
        config = {"base_model_name_or_path": adapter_base, "peft_type": "LORA"}
        (out / "adapter" / "adapter_config.json").write_text(json.dumps(config))
    return out


def _hf_dir(root: Path) -> Path:
    base = root / "hf-base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    return base


def test_a_model_trained_from_a_hugging_face_base_runs_on_transformers_with_its_adapter(
    tmp_path,
):
    base = _hf_dir(tmp_path)
    manifest = {
        "adapter": "adapter",
        "threshold": 0.4,
        "backend": "transformers",
        "base_model": {"location": str(base)},
    }
    out = _model_dir(tmp_path, manifest, adapter_base=str(base))
    spec = resolve(str(out))
    assert spec.backend == "transformers"
    assert spec.kwargs["model"] == str(base)
    assert spec.kwargs["adapter"] == out / "adapter"
    assert spec.kwargs["threshold"] == 0.4 and spec.label == "mine"


def test_an_old_manifest_without_base_gguf_uses_the_adapters_own_base(tmp_path):
    # What `vulnsight train --base HF_DIR` wrote before: no base_gguf, no base_model.
    base = _hf_dir(tmp_path)
    out = _model_dir(tmp_path, {"adapter": "adapter", "base": "hf-base"}, str(base))
    spec = resolve(str(out))
    assert spec.backend == "transformers" and spec.kwargs["model"] == str(base)


def test_a_directory_that_cannot_run_as_trained_is_refused_with_the_reasons(tmp_path):
    gone = tmp_path / "deleted-base"
    out = _model_dir(tmp_path, {"adapter": "adapter", "base": "x"}, str(gone))
    with pytest.raises(ConfigError) as err:
        resolve(str(out))
    message = str(err.value)
    assert "cannot be run as it was trained" in message
    assert "names no GGUF of the base (base_gguf)" in message
    assert f"its adapter's base {gone} is not a Hugging Face model directory" in message
    assert "Refusing to scan with a different model" in message


def test_an_adapter_without_its_llama_cpp_gguf_never_runs_the_bare_base(tmp_path):
    # base_gguf alone used to load the embedded model without any adapter.
    out = _model_dir(tmp_path, {"adapter": "adapter", "base_gguf": "default"})
    with pytest.raises(ConfigError, match="its adapter has no llama.cpp GGUF"):
        resolve(str(out))


def test_a_missing_base_gguf_file_is_named(tmp_path):
    manifest = {"adapter": "adapter", "base_gguf": "/nope/base.gguf", "lora_gguf": "a.gguf"}
    out = _model_dir(tmp_path, manifest)
    with pytest.raises(ConfigError, match=r"/nope/base.gguf, .*a.gguf not found"):
        resolve(f"llamacpp:{out}")


def test_the_runtime_prefix_chooses_and_fails_loudly(tmp_path):
    base = _hf_dir(tmp_path)
    (tmp_path / "base.gguf").write_bytes(b"GGUF")
    manifest = {
        "adapter": "adapter",
        "backend": "transformers",
        "base_model": {"location": str(base)},
        "base_gguf": str(tmp_path / "base.gguf"),
        "lora_gguf": "adapter.gguf",
    }
    out = _model_dir(tmp_path, manifest, adapter_base=str(base))
    (out / "adapter.gguf").write_bytes(b"GGUF")
    assert resolve(str(out)).backend == "transformers"
    on_llama = resolve(f"llamacpp:{out}")
    assert on_llama.backend == "llamacpp"
    assert on_llama.kwargs["lora_path"] == out / "adapter.gguf"
    # The shipped default has no PEFT adapter: transformers cannot run it as trained.
    with pytest.raises(ConfigError, match="transformers: it holds no PEFT adapter"):
        resolve("transformers:default")


def test_plain_hugging_face_directories_gguf_files_and_the_embedded_base(tmp_path):
    base = _hf_dir(tmp_path)
    assert resolve(str(base)).backend == "transformers"
    assert resolve(f"transformers:{base}").kwargs["model"] == str(base)
    spec = resolve("transformers:base")
    assert spec.backend == "transformers" and spec.kwargs["gguf_file"].endswith(".gguf")
    assert resolve("base").backend == "llamacpp"
    assert resolve("transformers:org/name").kwargs["model"] == "org/name"
    assert resolve("org/name").backend == "hub"  # plain hub ids stay GGUF downloads
