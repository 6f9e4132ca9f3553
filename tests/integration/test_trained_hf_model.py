"""`vulnsight train --base HF_DIR` then `vulnsight scan --model OUT`, as real
subprocesses: the scan runs the trained adapter on its Hugging Face base through the
transformers backend, says so in the report, and a directory that cannot run as
trained is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

SRC = Path(__file__).resolve().parents[2] / "src"
CODE = """int copy(char *s) {
    char buf[8];
    strcpy(buf, s);
    return 0;
}

int next(int id) {
    return id + 1;
}
"""


def vulnsight(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    res = subprocess.run(
        [sys.executable, "-m", "vulnsight.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if check:
        assert res.returncode in (0, 1), res.stderr
    return res


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.unit.train.conftest import make_model, make_tokenizer, write_records

    root = tmp_path_factory.mktemp("hf-trained")
    base = root / "tiny-llama"
    tok = make_tokenizer(base)
    make_model("llama", base, len(tok))
    vulnerable, clean = (part.strip() for part in CODE.split("\n\n")[:2])
    data = write_records(root / "data.jsonl", 24, 6, vulnerable=vulnerable, clean=clean)
    out = root / "out"
    res = vulnsight(
        "train",
        "--base",
        str(base),
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-length",
        "512",
        "--rank",
        "4",
        "--alpha",
        "8",
        "--lr",
        "0.01",
        "--grad-accum",
        "2",
        "--eval-every",
        "2",
        "--dev-fraction",
        "0.34",
        "--precision",
        "fp32",
    )
    assert res.returncode == 0, res.stderr
    project = root / "project"
    project.mkdir()
    (project / "copy.c").write_text(CODE)
    return base, out, project, res.stderr


def _scan(model: str, project: Path, fmt: str = "json") -> dict:
    res = vulnsight(
        "scan",
        str(project),
        "--model",
        model,
        "--detectors",
        "llm",
        "--format",
        fmt,
        "--llm-threshold",
        "0",
        "--gate",
        "off",  # judge the trivial `next` too: the test compares every function's score
        "--no-cache",
        "--no-progress",
    )
    return json.loads(res.stdout)


def test_the_trained_directory_runs_its_adapter_on_its_base_and_says_so(trained):
    base, out, project, train_log = trained
    manifest = json.loads((out / "vulnsight-model.json").read_text())
    assert manifest["backend"] == "transformers"
    assert manifest["base_model"] == {"location": str(base.resolve())}
    assert "1 example(s) per forward pass" in train_log  # the CPU path: unbatched

    tuned = _scan(str(out), project)
    stats = tuned["stats"]
    assert stats["model_backend"] == "transformers"
    assert stats["model_base"] == str(base.resolve())
    assert stats["model_adapter"] == str(out / "adapter")
    assert str(out / "adapter") in stats["model"] and "transformers" in stats["model"]
    plain = _scan(str(base), project)
    assert plain["stats"]["model_adapter"] == "" and "no adapter" in plain["stats"]["model"]

    # --llm-threshold 0 reports every function with its P(vulnerable) as confidence.
    def scores(report: dict) -> dict[str, float]:
        return {f["function"]: f["confidence"] for f in report["findings"]}

    a, b = scores(tuned), scores(plain)
    assert set(a) == set(b) == {"copy", "next"}
    assert all(abs(a[k] - b[k]) > 1e-3 for k in a), (a, b)
    assert all(f["model"] == "out" for f in tuned["findings"])

    sarif = _scan(str(out), project, "sarif")
    driver = sarif["runs"][0]["tool"]["driver"]
    assert driver["properties"]["model"]["adapter"] == str(out / "adapter")
    assert driver["properties"]["model"]["backend"] == "transformers"


def test_a_directory_that_cannot_run_as_trained_is_refused(trained, tmp_path):
    _, out, project, _ = trained
    # The adapter's base is gone and the manifest names neither base_gguf nor base_model:
    # before, this silently scanned with the embedded Gemma and no adapter at all.
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    manifest = json.loads((broken / "vulnsight-model.json").read_text())
    manifest.pop("base_model")
    (broken / "vulnsight-model.json").write_text(json.dumps(manifest))
    config = json.loads((broken / "adapter" / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tmp_path / "deleted-base")
    (broken / "adapter" / "adapter_config.json").write_text(json.dumps(config))
    res = vulnsight(
        "scan",
        str(project),
        "--model",
        str(broken),
        "--detectors",
        "llm",
        "--no-cache",
        check=False,
    )
    assert res.returncode == 2
    assert "cannot be run as it was trained" in res.stderr
    assert "names no GGUF of the base (base_gguf)" in res.stderr
    assert "deleted-base is not a Hugging Face model directory" in res.stderr
