"""scripts/gpu_retrain_data.py + scripts/gpu_retrain.sh end to end on the CPU with a
tiny model built from a config: the data pack, the staged base parts, every
leave-one-source-out fold's metrics, the final adapter (loaded by peft, exported for
llama.cpp) and a resumed run that skips what finished."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

ROOT = Path(__file__).resolve().parents[2]
C_BAD = "int f{n}(char *s) {{\n    char buf[8];\n    strcpy(buf, s);\n    return 0;\n}}"
C_GOOD = "int f{n}(char *s) {{\n    char buf[8];\n    strncpy(buf, s, 7);\n    return 0;\n}}"
PY_BAD = "def q{n}(db, name):\n    return db.execute('select * from t where n=' + name)"
PY_GOOD = "def q{n}(db, name):\n    return db.execute('select * from t where n=?', (name,))"


def _pairs(source: str, lang: str, bad: str, good: str, n: int, projects: int) -> list[dict]:
    rows = []
    for i in range(n):
        pair = f"{source}:pair{i}"
        for label, code in ((1, bad), (0, good)):
            rows.append(
                {
                    "id": f"{pair}:{'before' if label else 'after'}",
                    "language": lang,
                    "code": code.format(n=i),
                    "label": label,
                    "cwe": "CWE-120" if lang == "c" else "CWE-89",
                    "lines": [3] if label and lang == "c" else [2] if label else [],
                    "source": source,
                    "project": f"{source}-proj{i % projects}",
                    "path": "f.c" if lang == "c" else "f.py",
                    "meta": {"pair_id": pair},
                }
            )
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TQDM_DISABLE": "1"}


def test_gpu_retrain_end_to_end_on_a_tiny_model(tmp_path):
    alpha = _write(tmp_path / "alpha.jsonl", _pairs("alpha", "c", C_BAD, C_GOOD, 10, 5))
    beta = _write(tmp_path / "beta.jsonl", _pairs("beta", "python", PY_BAD, PY_GOOD, 10, 5))
    fixes = _write(tmp_path / "fixes.jsonl.gz", _pairs("fixes", "c", C_BAD, C_GOOD, 8, 4))
    clean_rows = [
        {
            "id": f"clean:{i}",
            "language": "python",
            "code": f"def add{i}(a, b):\n    return a + b",
            "label": 0,
            "source": "mature-clean",
            "project": f"pkg{i}",  # pkg8 and pkg11 fall in the held-out 30%
        }
        for i in range(12)
    ]
    clean = _write(tmp_path / "clean.jsonl", clean_rows)
    pack = tmp_path / "pack"
    build = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/gpu_retrain_data.py"),
            "--tiny",
            "--data", str(alpha), str(beta),
            "--fixes", str(fixes),
            "--clean", str(clean),
            "--sample", "8",
            "--max-length", "384",
            "--part-mib", "0.05",
            "--out", str(pack),
        ],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    info = json.loads((pack / "data" / "build.json").read_text())
    summary = info["summary"]
    # 8 LOSO test records per source (pairs whole), the rest trains or is dev.
    assert summary["by_role"]["test"] == 24
    assert summary["by_source"]["fixes"] >= 16 and summary["by_source"]["mature-clean"] >= 12
    assert summary["by_kind"]["perturbed"] > 0 and summary["pairs"] >= 28
    stages = sorted(p.name for p in pack.glob("stage*"))
    assert len(stages) >= 2 and stages == list(info["stages"])  # the base travels in parts

    # The first staging call's software check: the base's shape with random weights.
    chk = subprocess.run(
        [
            sys.executable, str(ROOT / "scripts/gpu_retrain.py"), "--cpu-tiny",
            "--data", str(pack / "data" / "data.npz"),
            "--check", str(pack / "data" / "base-config.json"),
        ],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert chk.returncode == 0, chk.stderr[-3000:]
    assert '"examples_seen": 8' in chk.stderr and '"scores": [' in chk.stderr

    out = tmp_path / "device-out"
    env = {**_env(), "OUT": str(out), "PACK": str(pack), "PYTHON": sys.executable}
    cmd = ["bash", str(ROOT / "scripts/gpu_retrain.sh"), "--cpu-tiny", "--budget-s", "240"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    res = out / "retrain"
    folds = json.loads((res / "folds.json").read_text())
    assert sorted(folds) == ["final", "fold:alpha", "fold:beta", "fold:fixes"]
    for name in ("fold:alpha", "fold:beta", "fold:fixes"):
        fold = folds[name]
        assert fold["status"] == "done" and fold["stats"]["examples_seen"] > 0
        test = fold["metrics"]["test"]
        assert (
            test["all"]["n"] == 8 and test["all"]["vulnerable"] == 4 and test["all"]["pairs"] == 4
        )
        lang = "python" if name == "fold:beta" else "c"
        assert list(test["by_language"]) == [lang]
        assert {"youden_j", "mcc", "pair_correct", "auc"} <= set(test["all"])
        clean = fold["metrics"]["clean_heldout"]["all"]  # pkg8, pkg11: never trained on
        assert clean["n"] == 2 and clean["flag_rate_clean"] is not None
    # Every fold scored exactly its held-out source's test records, plus dev and clean.
    scores = [json.loads(line) for line in (res / "scores.jsonl").read_text().splitlines()]
    alpha_test = {
        s["id"] for s in scores if s["job"] == "fold:alpha" and s["id"].startswith("alpha")
    }
    assert len(alpha_test) >= 8 and all(0.0 <= s["p"] <= 1.0 for s in scores)
    assert not any(s["id"].startswith("alpha") and "~" in s["id"] for s in scores)

    # The final adapter loads with peft on the full tiny base and was trained (B != 0).
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with tarfile.open(res / "final-adapter.tar") as tar:
        tar.extractall(tmp_path / "final", filter="data")
    adapter = tmp_path / "final" / "adapter"
    assert json.loads((adapter / "train_config.json").read_text())["job"] == "final"
    base = AutoModelForCausalLM.from_pretrained(str(pack / "work" / "tiny-base"))
    model = PeftModel.from_pretrained(base, str(adapter))
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(float(p.abs().sum()) > 0 for p in lora_b)
    assert torch.isfinite(torch.stack([p.abs().sum() for p in lora_b])).all()

    # A run stopped during a fold resumes on a fresh $OUT (a device empties it before each
    # command) from the returned files copied to $PACK/resume: that fold runs again, the
    # others and the final adapter are kept as they were.
    import shutil

    resume = pack / "resume"
    shutil.copytree(res, resume)
    kept = {k: v for k, v in folds.items() if k != "fold:beta"}
    (resume / "folds.json").write_text(json.dumps(kept))
    with (resume / "scores.jsonl").open("a") as fh:  # lines of the stopped fold
        fh.write(json.dumps({"job": "fold:beta", "id": "beta:stale", "p": 0.5}) + "\n")
    tar_bytes = (res / "final-adapter.tar").read_bytes()
    out2 = tmp_path / "device-out-2"
    env2 = {**env, "OUT": str(out2)}
    second = subprocess.run(cmd, capture_output=True, text=True, env=env2, timeout=300, cwd=ROOT)
    assert second.returncode == 0, second.stderr[-3000:]
    res = out2 / "retrain"
    run = json.loads((res / "run.json").read_text())
    assert run["skipped_as_finished"] == ["final", "fold:alpha", "fold:fixes"]
    assert [j["name"] for j in run["jobs"]] == ["fold:alpha", "fold:beta", "fold:fixes", "final"]
    again = json.loads((res / "folds.json").read_text())
    assert again["fold:beta"]["status"] == "done"
    assert again["fold:alpha"] == folds["fold:alpha"] and again["final"] == folds["final"]
    assert (res / "final-adapter.tar").read_bytes() == tar_bytes
    lines = [json.loads(line) for line in (res / "scores.jsonl").read_text().splitlines()]
    assert not any(s["id"] == "beta:stale" for s in lines)
    beta_lines = [s for s in lines if s["job"] == "fold:beta"]
    assert len(beta_lines) == len({s["id"] for s in beta_lines}) > 0
    assert {s["job"] for s in lines} == set(folds)

    # Back on the CPU: the adapter becomes a model directory (llama.cpp LoRA GGUF too)
    # and the folds' scores a LOSO table.
    col = subprocess.run(
        [
            sys.executable, str(ROOT / "scripts/gpu_retrain_collect.py"),
            "--results", str(res), "--pack", str(pack), "--out", str(tmp_path / "collected"),
            "--base", str(pack / "work" / "tiny-base"),
        ],
        capture_output=True, text=True, env=_env(), timeout=300,
    )  # fmt: skip
    assert col.returncode == 0, col.stderr[-3000:]
    import gguf

    model_dir = tmp_path / "collected" / "model"
    manifest = json.loads((model_dir / "vulnsight-model.json").read_text())
    assert manifest["adapter"] == "adapter" and manifest["backend"] == "transformers"
    names = {t.name for t in gguf.GGUFReader(str(model_dir / "adapter.gguf")).tensors}
    assert len(names) == 2 * 7 * 2 and "blk.1.ffn_down.weight.lora_b" in names
    loso = json.loads((tmp_path / "collected" / "loso" / "loso.json").read_text())
    assert [f["held_out"] for f in loso["folds"]] == ["alpha", "beta", "fixes"]
    lora_c = [r for r in loso["by_language"] if r["language"] == "c" and r["detector"] == "lora"]
    assert lora_c and lora_c[0]["n"] == 16 and lora_c[0]["pairs"] == 8
    # The rule pack ran on the same held-out records (strcpy into a fixed buffer: the
    # vulnerable C halves), and a rule hit is never lost by the hybrid rows.
    rows = {(r["language"], r["detector"]): r for r in loso["by_language"]}
    assert rows[("c", "rules")]["recall"] > 0
    for det in ("hybrid-lora", "hybrid-lora-combiner"):
        assert rows[("c", det)]["recall"] >= rows[("c", "rules")]["recall"]
    assert (tmp_path / "collected" / "loso" / "detectors").is_dir()
    dev = [json.loads(x) for x in (tmp_path / "collected" / "dev.jsonl").read_text().splitlines()]
    clean_out = (tmp_path / "collected" / "clean-heldout.jsonl").read_text().splitlines()
    trained = {json.loads(x)["id"] for x in clean_out} | {r["id"] for r in dev}
    assert clean_out and not any("~" in i for i in trained)  # originals only
    board = (tmp_path / "collected" / "loso" / "LOSO.md").read_text()
    assert "| c | hybrid-lora-combiner | 16 (8/8) |" in board
