"""Batched training: one padded forward pass computes what one-at-a-time does."""

from __future__ import annotations

import random

import pytest

from vulnsight.train.trainer import bucketed


def test_bucketing_keeps_every_example_and_groups_similar_lengths():
    rng = random.Random(0)
    lengths = [rng.randint(10, 1000) for _ in range(300)]
    order = list(range(300))
    rng.shuffle(order)
    out = bucketed(order, lengths, 4, seed=1)
    assert sorted(out) == list(range(300))
    assert out == bucketed(order, lengths, 4, seed=1)  # resumable: same sequence
    spread = [
        max(lengths[i] for i in out[j : j + 4]) - min(lengths[i] for i in out[j : j + 4])
        for j in range(0, 300, 4)
    ]
    assert sum(spread) / len(spread) < 60  # vs ~500 for random groups of four
    assert bucketed(order, lengths, 1, seed=1) == order  # batch 1: the CPU order unchanged


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_batch_loss_and_batched_p_true_equal_one_example_at_a_time(tiny_base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from vulnsight.train.trainer import Encoded, batch_loss, example_loss, p_true

    tok = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32).eval()
    texts = [
        ("int f ( char buf ) { strcpy ( buf , s ) ;", ' true, "type": "CWE-120", "line_number": 3'),
        ("def f ( id ) : return id", ' false, "type": "none"'),
        ("select id from name where", ' true, "type": "CWE-89"'),
    ]
    encs = [
        Encoded(
            tok.encode(p, add_special_tokens=False),
            tok.encode(t, add_special_tokens=False),
            0,
            None,
        )  # type: ignore[arg-type]
        for p, t in texts
    ]
    alone = torch.stack([example_loss(model, e, "cpu", 4.0) for e in encs]).mean()
    together = batch_loss(model, encs, "cpu", 4.0, tok.pad_token_id)
    assert float(together) == pytest.approx(float(alone), rel=1e-5)
    ids = (tok.convert_tokens_to_ids("true"), tok.convert_tokens_to_ids("false"))
    single = p_true(model, encs, "cpu", ids)
    batched = p_true(model, encs, "cpu", ids, batch_size=3, pad_id=tok.pad_token_id)
    assert batched == pytest.approx(single, abs=1e-6)
