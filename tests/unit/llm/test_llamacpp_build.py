"""Which llama.cpp build is installed, and the load setting that keeps AMX builds alive."""

from __future__ import annotations

import pytest

from vulnsight.llm import llamacpp_build as lb

NATIVE = (
    "CPU : SSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | "
    "AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
PORTABLE = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | REPACK = 1 | "


def test_features_are_read_from_system_info():
    assert {"AVX512", "AMX_INT8", "AVX2"} <= lb.build_features(NATIVE)
    assert "AMX_INT8" not in lb.build_features(PORTABLE)
    assert lb.build_features("CPU : AVX2 = 0 | ") == frozenset()


def test_amx_builds_drop_extra_buffers_unless_the_user_says_otherwise():
    native, portable = lb.build_features(NATIVE), lb.build_features(PORTABLE)
    assert lb.use_extra_buffers(native, None) is False
    assert lb.use_extra_buffers(portable, None) is True
    assert lb.use_extra_buffers(native, "1") is True
    assert lb.use_extra_buffers(portable, "0") is False
    assert lb.use_extra_buffers(native, "yes please") is False  # not a recognised value


def test_load_settings_patches_the_model_parameters_only_inside(monkeypatch):
    low = pytest.importorskip("llama_cpp.llama_cpp")
    original = low.llama_model_default_params
    monkeypatch.delenv(lb.EXTRA_BUFFERS_ENV, raising=False)
    monkeypatch.setattr(lb, "installed_features", lambda: lb.build_features(NATIVE))
    with lb.load_settings() as chosen:
        assert chosen["extra_buffers"] is False
        assert "AMX_INT8" in chosen["build"]
        assert low.llama_model_default_params().use_extra_bufts is False
    assert low.llama_model_default_params is original
    assert original().use_extra_bufts is True
    monkeypatch.setattr(lb, "installed_features", lambda: lb.build_features(PORTABLE))
    with lb.load_settings() as chosen:
        assert chosen["extra_buffers"] is True
        assert low.llama_model_default_params is original
