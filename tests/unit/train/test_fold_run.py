"""The device side of GPU retraining (`train.fold_run`) and the packed base
(`train.packed_base`), on tiny models built from a config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import make_model, make_tokenizer

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[3]


def _tiny(tmp_path: Path, kind: str = "gemma") -> tuple[Path, object]:
    tok = make_tokenizer(tmp_path)
    make_model(kind, tmp_path, len(tok))
    return tmp_path, tok


def _rows(tok) -> tuple[list[list[int]], list[int]]:
    texts = [
        ("int f ( char * s ) { strcpy ( buf , s ) ; }", ' true, "type": "CWE-120"'),
        ("def q ( id ) : return id", ' false, "type": "none"'),
        ("select name from t where id = 1", ' true, "type": "CWE-89", "line_number": 12'),
    ]
    rows, plen = [], []
    for prompt, target in texts:
        p = [tok.bos_token_id, *tok.encode(prompt, add_special_tokens=False)]
        t = tok.encode(target, add_special_tokens=False)
        rows.append(p + t)
        plen.append(len(p))
    return rows, plen


def test_loss_and_score_equal_the_trainers(tmp_path):
    """The device module's loss and P(true) are the trainer's, to float precision."""
    from transformers import AutoModelForCausalLM

    from vulnsight.llm.prompt import Prompt
    from vulnsight.train import fold_run, trainer
    from vulnsight.train.data import Example

    path, tok = _tiny(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    rows, plen = _rows(tok)
    dummy = Example("x", "p", "s", "c", 1, None, 0, Prompt("", ""), "")
    encs = [trainer.Encoded(r[:n], r[n:], 1, dummy) for r, n in zip(rows, plen, strict=True)]
    want = trainer.batch_loss(model, encs, "cpu", 4.0, tok.pad_token_id)
    got = fold_run.batch_loss(model, rows, plen, "cpu", 4.0, tok.pad_token_id)
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-5)
    ids = trainer.decision_ids(tok)
    want_p = trainer.p_true(model, encs, "cpu", ids, batch_size=2, pad_id=tok.pad_token_id)
    got_p = fold_run.p_true(model, [e.prompt_ids for e in encs], "cpu", ids, 2, tok.pad_token_id)
    assert got_p == pytest.approx(want_p, abs=1e-6)


def test_packed_base_cuts_the_vocabulary_and_keeps_the_logits(tmp_path):
    """A packed tiny base (kept tokens renumbered) scores renumbered prompts exactly as
    the full model scores the originals."""
    from transformers import AutoModelForCausalLM

    from vulnsight.train.packed_base import kept_vocab, load_packed_model, pack_hf_base

    path, tok = _tiny(tmp_path / "m")
    full = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    rows, _ = _rows(tok)
    t_id, f_id = (tok.encode(w, add_special_tokens=False)[0] for w in (" true", " false"))
    keep = kept_vocab((t for r in rows for t in r), (0, 1, 2, t_id, f_id))
    assert len(keep) < len(tok)
    meta = pack_hf_base(path, keep, tmp_path / "base.npz")
    assert meta["config"]["vocab_size"] == len(keep)
    packed, _ = load_packed_model(tmp_path / "base.npz")
    remap = {t: i for i, t in enumerate(keep)}
    with torch.no_grad():
        for r in rows:
            a = full(input_ids=torch.tensor([r])).logits[0, -1]
            b = packed(input_ids=torch.tensor([[remap[t] for t in r]])).logits[0, -1]
            assert float(b[remap[t_id]] - b[remap[f_id]]) == pytest.approx(
                float(a[t_id] - a[f_id]), abs=1e-5
            )
            assert torch.allclose(b, a[keep], atol=1e-5)


def test_dequantize_reads_q8_0_blocks():
    """Quantised blocks are dequantised with gguf's own numpy code (as on the device)."""
    import gguf

    from vulnsight.train.packed_base import dequantize

    values = np.linspace(-1, 1, 4 * 64, dtype=np.float32).reshape(4, 64)
    raw = gguf.quants.quantize(values, gguf.GGMLQuantizationType.Q8_0)
    got = dequantize(raw.reshape(-1), int(gguf.GGMLQuantizationType.Q8_0), [4, 64])
    assert got.shape == (4, 64)
    assert np.abs(got - values).max() < 0.01


def test_split_parts_join_back_and_damage_is_caught(tmp_path):
    from vulnsight.train.packed_base import join_parts, split_parts

    whole = tmp_path / "base.npz"
    whole.write_bytes(bytes(range(256)) * 41)
    parts = split_parts(whole, 4000)
    assert [p.stat().st_size for p in parts] == [4000, 4000, 2496]
    listing = whole.with_name("base.npz.parts.json")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    parts[0].rename(a / parts[0].name)
    for p in parts[1:]:
        p.rename(b / p.name)
    out = join_parts(listing, [a, b], tmp_path / "joined.npz")
    assert out.read_bytes() == whole.read_bytes()
    (b / parts[2].name).unlink()
    with pytest.raises(FileNotFoundError, match="base.npz.part02"):
        join_parts(listing, [a, b], tmp_path / "again.npz")
    (b / parts[2].name).write_bytes(b"x" * 2496)
    with pytest.raises(ValueError, match="damaged"):
        join_parts(listing, [a, b], tmp_path / "again.npz")


def _ex(i: int, source: str, label: int, **kw) -> dict:
    base = {
        "id": f"{source}:{i}",
        "source": source,
        "language": "c",
        "project": f"{source}-p{i % 3}",
        "label": label,
        "pair": None,
        "test": False,
        "dev": False,
        "clean_heldout": False,
        "kind": "original",
    }
    return {**base, **kw}


def test_fold_plan_never_trains_on_the_held_out_source_dev_or_held_out_clean():
    from vulnsight.train.fold_run import fold_plan

    ex = [
        _ex(0, "a", 1, test=True),
        _ex(1, "a", 0),
        _ex(2, "b", 1, test=True),
        _ex(3, "b", 0, dev=True),
        _ex(4, "b", 0, project="a-p1"),  # shares a project with the held-out source a
        _ex(5, "clean", 0, clean_heldout=True),
        _ex(6, "clean", 0),
    ]
    jobs = {j.name: j for j in fold_plan(ex)}
    assert sorted(jobs) == ["final", "fold:a", "fold:b"]
    assert jobs["fold:a"].train == (2, 6) and jobs["fold:a"].score == (0, 3, 5)
    # record 1 (project a-p1) shares a project with b's record 4, so fold b drops it too
    assert jobs["fold:b"].train == (0, 6) and jobs["fold:b"].score == (2, 5)
    assert jobs["final"].train == (0, 1, 2, 4, 6) and jobs["final"].score == (3, 5)


def test_group_batches_keep_pairs_together_and_cover_every_example():
    from vulnsight.train.fold_run import group_batches

    groups = [f"pair{i // 2}" if i < 40 else f"single{i}" for i in range(60)]
    lengths = [10 + (i * 37) % 200 for i in range(60)]
    batches = group_batches(lengths, groups, list(range(60)), 8, seed=3)
    assert sorted(i for b in batches for i in b) == list(range(60))
    where = {i: n for n, b in enumerate(batches) for i in b}
    assert all(where[2 * k] == where[2 * k + 1] for k in range(20))
    assert max(len(b) for b in batches) <= 8
    assert batches == group_batches(lengths, groups, list(range(60)), 8, seed=3)


def test_device_modules_import_without_tree_sitter_pydantic_or_llama_cpp():
    """The lent GPU image has none of these: what runs there must not import them."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'tree_sitter', 'pydantic', 'llama_cpp', 'click'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import vulnsight.train.fold_run, vulnsight.train.packed_base\n"
        "print('ok')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


def test_job_metrics_threshold_from_dev_rows_per_language():
    from vulnsight.train.fold_run import Job, job_metrics

    ex = [
        _ex(0, "a", 1, test=True, pair="p0"),
        _ex(1, "a", 0, test=True, pair="p0"),
        _ex(2, "b", 1, dev=True),
        _ex(3, "b", 0, dev=True),
        _ex(4, "clean", 0, clean_heldout=True),
    ]
    job = Job("fold:a", "a", (), (0, 1, 2, 3, 4))
    scores = {0: 0.7, 1: 0.4, 2: 0.6, 3: 0.3, 4: 0.65}
    m = job_metrics(job, ex, scores)
    assert m["thresholds"] == {"c": 0.6}
    test = m["test"]["all"]
    assert (test["youden_j"], test["pairs"], test["pair_correct"]) == (1.0, 1, 1.0)
    assert m["clean_heldout"]["all"]["flag_rate_clean"] == 1.0
    json.dumps(m)


def _tiny_pack(tmp_path: Path) -> tuple[Path, Path]:
    """A data pack of synthetic token rows over a tiny packed base (no rendering)."""
    from vulnsight.train.packed_base import pack_hf_base
    from vulnsight.train.retrain_data import save_pack_data

    path, tok = _tiny(tmp_path / "m")
    t_id, f_id = (tok.encode(w, add_special_tokens=False)[0] for w in (" true", " false"))
    ids, plen, info = [], [], []
    for i in range(24):
        source = "ab"[i % 2]
        label = (i // 2) % 2
        prompt = [
            tok.bos_token_id,
            *tok.encode(f"int f ( ) {{ return {i} ; }}", add_special_tokens=False),
        ]
        ids.append(prompt + [t_id if label else f_id, tok.eos_token_id])
        plen.append(len(prompt))
        info.append(_ex(i, source, label, test=i < 8, dev=8 <= i < 12, project=f"{source}{i % 4}"))
    keep = list(range(len(tok)))
    header = {"true_id": t_id, "false_id": f_id, "pad_id": tok.pad_token_id}
    save_pack_data(tmp_path / "data.npz", ids, plen, info, keep, header)
    pack_hf_base(path, keep, tmp_path / "base.npz")
    return tmp_path / "data.npz", tmp_path / "base.npz"


def test_run_stops_on_its_budget_and_still_writes_what_it_has(tmp_path):
    from vulnsight.train.fold_run import RunSettings, run

    data, base = _tiny_pack(tmp_path)
    # Budget gone: every job is skipped, not started, and the run says so.
    out = tmp_path / "none"
    info = run(data, base, out, RunSettings(budget_s=0.0, min_job_s=1.0), "cpu", log=lambda m: None)
    folds = json.loads((out / "folds.json").read_text())
    assert {k: v["status"] for k, v in folds.items()} == dict.fromkeys(
        ["fold:a", "fold:b", "final"], "skipped"
    )
    assert info["finished"] == [] and not (out / "final-adapter.tar").exists()
    # A tight budget: each job stops on its share of the time, is scored and written,
    # and the whole run ends near its budget.
    out = tmp_path / "tight"
    settings = RunSettings(
        budget_s=12.0, min_job_s=0.0, batch_size=2, fold_examples=4000, final_examples=4000
    )
    info = run(data, base, out, settings, "cpu", log=lambda m: None)
    folds = json.loads((out / "folds.json").read_text())
    for name in ("fold:a", "fold:b", "final"):
        stats = folds[name]["stats"]
        assert folds[name]["status"] == "done" and 1 <= stats["steps"] < stats["planned_steps"]
        assert stats["stopped"] == "time budget"
    assert folds["fold:a"]["metrics"]["test"]["all"]["n"] == 4
    assert (
        info["finished"] == ["final", "fold:a", "fold:b"] and (out / "final-adapter.tar").is_file()
    )
    assert info["seconds"] < 12.0 + 5.0
