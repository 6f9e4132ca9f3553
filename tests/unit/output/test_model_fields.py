"""Reports name the model that ran: `stats.model` / `model_*` and SARIF's driver."""

from __future__ import annotations

import json

from vulnsight.llm.fake import FakeBackend
from vulnsight.llm.interface import model_stats
from vulnsight.output import sarif
from vulnsight.types import Report


class _Described(FakeBackend):
    name = "mine"
    model_info = {
        "backend": "transformers",
        "base": "/models/base",
        "adapter": "/models/mine/adapter",
        "device": "cuda",
        "dtype": "bf16",
    }


def test_model_stats_name_runtime_base_adapter_and_device():
    stats = model_stats(_Described())
    assert stats["model"] == (
        "mine (transformers: /models/base + adapter /models/mine/adapter; cuda, bf16)"
    )
    assert stats["model_adapter"] == "/models/mine/adapter"
    assert stats["model_backend"] == "transformers"
    assert model_stats(FakeBackend()) == {"model": "fake"}


def test_sarif_driver_carries_the_model(tmp_path):
    stats = {**model_stats(_Described()), "model_loaded": 1, "functions": 3}
    doc = json.loads(sarif.render(Report(findings=(), stats=stats, root=str(tmp_path))))
    model = doc["runs"][0]["tool"]["driver"]["properties"]["model"]
    assert model == {
        "summary": stats["model"],
        "backend": "transformers",
        "base": "/models/base",
        "adapter": "/models/mine/adapter",
        "device": "cuda",
        "dtype": "bf16",
    }
    bare = json.loads(sarif.render(Report(findings=(), stats={}, root=str(tmp_path))))
    assert "properties" not in bare["runs"][0]["tool"]["driver"]
