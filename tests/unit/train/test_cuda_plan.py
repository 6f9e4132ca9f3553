"""The CUDA branch of training without a GPU: bitsandbytes is checked by importing it
(not by importing transformers' config class), and without it LoRA runs on bf16
weights with a note; batching and checkpointing decisions."""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest

from vulnsight.train import model as train_model
from vulnsight.train.model import bitsandbytes_status, plan_loading, wants_checkpointing


def test_bitsandbytes_is_checked_by_finding_and_importing_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "bitsandbytes" else real(name, *a),
    )
    ok, why = bitsandbytes_status()
    assert not ok and why == "bitsandbytes is not installed"


def test_a_bitsandbytes_that_fails_to_import_is_not_usable(monkeypatch, tmp_path):
    pkg = tmp_path / "bitsandbytes"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('CUDA Setup failed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "bitsandbytes", raising=False)
    ok, why = bitsandbytes_status()
    assert not ok and "does not import (RuntimeError: CUDA Setup failed)" in why


def test_the_plan_on_cuda_cpu_and_gguf_bases():
    missing = (False, "bitsandbytes is not installed")
    plan = plan_loading(cuda=True, gguf=False, precision="auto", bnb=missing)
    assert not plan.quantized and plan.bf16
    assert plan.note.startswith("LoRA on bf16 weights, CUDA (bitsandbytes is not installed;")
    assert plan_loading(True, False, "auto", (True, "")).quantized
    assert not plan_loading(True, True, "auto", (True, "")).quantized  # GGUF: dequantised
    assert not plan_loading(True, False, "fp32", (True, "")).bf16
    cpu = plan_loading(False, False, "auto", (True, ""), cpu_bf16=False)
    assert not cpu.quantized and not cpu.bf16 and "fp32" in cpu.note


def test_checkpointing_only_when_memory_needs_it():
    small = types.SimpleNamespace(hidden_size=640, intermediate_size=2048, num_hidden_layers=18)
    big = types.SimpleNamespace(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32)
    gib = 1 << 30
    assert not wants_checkpointing("auto", "cuda", small, 8 * 768, 130 * gib)
    assert wants_checkpointing("auto", "cuda", big, 8 * 4096, 20 * gib)
    assert not wants_checkpointing("auto", "cpu", big, 8 * 4096, None)  # CPU unchanged
    assert wants_checkpointing("on", "cpu", small, 1, None)


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_load_base_on_mocked_cuda_without_bitsandbytes_trains_lora_on_bf16(tiny_base, monkeypatch):
    moved: list[str] = []
    real = importlib.util.find_spec
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "bitsandbytes" else real(name, *a),
    )
    monkeypatch.setattr(train_model, "_to_cuda", lambda m: moved.append("cuda") or m)
    source = train_model.resolve_base(str(tiny_base))
    loaded = train_model.load_base(source, precision="auto")
    assert loaded.device == "cuda" and not loaded.quantized and moved == ["cuda"]
    assert "bitsandbytes is not installed" in loaded.note and "bf16" in loaded.note
    assert {p.dtype for p in loaded.model.parameters()} == {torch.bfloat16}
    assert getattr(loaded.model.config, "quantization_config", None) is None
