"""The transformers backend on tiny models built from a config: batching changes
nothing, the decision is the one training measures, flagged verdicts are schema-valid."""

from __future__ import annotations

import pytest

from vulnsight.llm.hf import left_pad, length_batches, pick_device, pick_dtype
from vulnsight.llm.prompt import render
from vulnsight.llm.schema import parse_verdict

CONTEXTS = [
    "1| int f(char *s) {\n2|     char buf[8];\n3|     strcpy(buf, s);\n4|     return 0;\n5| }",
    "1| int f(int id) {\n2|     return id + 1;\n3| }",
    "1| def f(query):\n2|     os.system(query)",
    "7| int g(char *name) {\n8|     return 0;\n9| }",
    "1| select id from where name",
]


def test_left_padding_keeps_every_row_at_its_own_positions():
    ids, mask, pos = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids == [[5, 6, 7], [0, 0, 8]]
    assert mask == [[1, 1, 1], [0, 0, 1]]
    assert pos == [[0, 1, 2], [0, 0, 0]]


def test_length_batches_sort_and_cap_rows_and_padded_tokens():
    lengths = [50, 10, 40, 20, 30]
    assert length_batches(lengths, 2, 10_000) == [[1, 3], [4, 2], [0]]
    # 40 and 50 together would pad to 100 tokens > 90: the widest stands alone
    assert length_batches(lengths, 8, 90) == [[1, 3, 4], [2], [0]]
    assert length_batches([500], 4, 10) == [[0]]


def test_device_and_dtype_choices():
    assert pick_device("auto", True) == "cuda" and pick_device("auto", False) == "cpu"
    with pytest.raises(Exception, match="no CUDA GPU"):
        pick_device("cuda", False)
    assert pick_dtype("auto", "cuda", False) == "bf16"
    assert pick_dtype("auto", "cpu", False) == "fp32"
    assert pick_dtype("auto", "cpu", True) == "bf16"
    assert pick_dtype("fp32", "cuda", True) == "fp32"


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")


@pytest.fixture(scope="module", params=["llama", "gemma"])
def tiny(request, tmp_path_factory):
    from tests.unit.train.conftest import make_model, make_tokenizer

    path = tmp_path_factory.mktemp(f"hf-{request.param}")
    tok = make_tokenizer(path)
    make_model(request.param, path, len(tok))
    return path


def test_batched_decisions_equal_one_at_a_time_and_training_s_measure(tiny):
    from vulnsight.llm.hf import TransformersBackend
    from vulnsight.train.trainer import Encoded, p_true

    prompts = [render(c, "c") for c in CONTEXTS]
    batched = TransformersBackend(tiny, dtype="fp32", batch_size=4)
    single = TransformersBackend(tiny, dtype="fp32", batch_size=1)
    got = [d.p_vulnerable for d in batched.decide(prompts)]
    alone = [d.p_vulnerable for d in single.decide(prompts)]
    assert got == pytest.approx(alone, abs=1e-5)
    assert len({round(p, 6) for p in got}) > 1  # the prompts are told apart

    # What `vulnsight train` measures on the development split: BOS + prefix + body.
    tok = batched._tok
    encs = [
        Encoded(
            [tok.bos_token_id]
            + tok.encode(p.prefix, add_special_tokens=False)
            + tok.encode(p.body, add_special_tokens=False),
            [],
            0,
            None,
        )  # type: ignore[arg-type]
        for p in prompts
    ]
    measured = p_true(batched._net, encs, "cpu", batched.true_false_ids)
    assert got == pytest.approx(measured, abs=1e-5)
    info = batched.model_info
    assert info["backend"] == "transformers" and info["base"] == str(tiny)
    assert info["adapter"] == "" and info["device"] == "cpu" and info["dtype"] == "fp32"


def test_flagged_functions_get_a_schema_valid_cwe_and_line(tiny):
    from vulnsight.llm.hf import TransformersBackend

    backend = TransformersBackend(tiny, dtype="fp32")
    prompts = [render(c, "c") for c in CONTEXTS[:2]]
    for reply in backend.complete_flagged(prompts):
        verdict = parse_verdict(reply.text)
        assert verdict.vulnerability is True
        assert verdict.type.startswith("CWE-") and verdict.type[4:].isdigit()
    whole = [parse_verdict(c.text) for c in backend.generate(prompts)]
    decided = backend.decide(prompts)
    for verdict, d in zip(whole, decided, strict=True):
        assert verdict.vulnerability == (d.p_vulnerable >= 0.5)


def test_an_adapter_changes_the_decision_and_is_named(tiny, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from vulnsight.llm.hf import TransformersBackend

    model = AutoModelForCausalLM.from_pretrained(tiny)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    torch.manual_seed(3)
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(std=0.5)
    peft_model.save_pretrained(tmp_path / "adapter")
    prompts = [render(c, "c") for c in CONTEXTS]
    base = TransformersBackend(tiny, dtype="fp32").decide(prompts)
    tuned_backend = TransformersBackend(tiny, dtype="fp32", adapter=tmp_path / "adapter")
    tuned = tuned_backend.decide(prompts)
    diffs = [abs(a.p_vulnerable - b.p_vulnerable) for a, b in zip(base, tuned, strict=True)]
    assert max(diffs) > 1e-3
    assert tuned_backend.model_info["adapter"] == str(tmp_path / "adapter")
