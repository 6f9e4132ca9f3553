"""benchmarks/device_bench.py end to end on the CPU with a tiny model: it trains
through `run_training`, scans through the transformers backend and writes its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

ROOT = Path(__file__).resolve().parents[2]


def test_device_bench_runs_end_to_end_with_tiny_settings(tmp_path):
    from tests.unit.train.conftest import write_records

    vulnerable = "int f(char *s) {\n    char buf[8];\n    strcpy(buf, s);\n}"
    data = write_records(tmp_path / "records.jsonl", 16, 5, vulnerable=vulnerable)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TQDM_DISABLE": "1"}
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "device_bench.py"),
            "--tiny",
            "--data",
            str(data),
            "--train-examples",
            "10",
            "--dev-examples",
            "4",
            "--batch-sizes",
            "2",
            "--scan-functions",
            "6",
            "--scan-batches",
            "1,3",
            "--lengths",
            "64",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "device_bench-tiny.json").read_text())
    (train,) = result["training"]
    assert train["mode"] == "lora" and train["batch"] == 2 and train["examples"] > 0
    assert train["examples_per_s"] > 0 and "2 example(s) per forward pass" in train["plan"]
    scan = result["scanning"]
    assert [r["batch"] for r in scan["by_batch"]] == [1, 3]
    assert all(r["functions"] == 6 and r["ms_per_function"] > 0 for r in scan["by_batch"])
    assert scan["by_length"][0]["tokens"] == 64
    assert scan["adapter"].endswith("adapter")  # the scan ran the adapter it trained
    assert result["config"]["train_examples"] == 10 and result["cuda"] is False
