"""The LoRA -> llama.cpp GGUF adapter export."""

from __future__ import annotations

import numpy as np
import torch

from vulnsight.train.export import _permute, lora_to_gguf

from .conftest import make_model, make_tokenizer


def test_gguf_adapter_has_llama_cpp_names_shapes_alpha_and_permuted_qk(tmp_path):
    import gguf
    import transformers
    from peft import LoraConfig, get_peft_model

    tok = make_tokenizer(tmp_path)
    make_model("llama", tmp_path, len(tok))
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    )
    torch.manual_seed(1)
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            p.data.normal_()
    state = {k: v for k, v in peft_model.state_dict().items() if "lora_" in k}
    out = tmp_path / "adapter.gguf"
    n = lora_to_gguf(state, model.config, alpha=8, path=out)
    assert n == 2 * 3 * 2  # (a, b) x 3 modules x 2 layers

    reader = gguf.GGUFReader(str(out))
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) >= {"blk.0.attn_q.weight.lora_a", "blk.1.ffn_down.weight.lora_b"}
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "llama"
    alpha = reader.fields["adapter.lora.alpha"]
    assert float(alpha.parts[alpha.data[0]][0]) == 8.0

    key = "base_model.model.model.layers.0.self_attn.{}.lora_B.default.weight"
    q_b = state[key.format("q_proj")].numpy()
    v_b = state[key.format("v_proj")].numpy()
    got_q = np.array(tensors["blk.0.attn_q.weight.lora_b"].data).reshape(q_b.shape)
    got_v = np.array(tensors["blk.0.attn_v.weight.lora_b"].data).reshape(v_b.shape)
    assert np.allclose(got_v, v_b)  # v is not permuted
    assert np.allclose(got_q, _permute(q_b, 4, 4)) and not np.allclose(got_q, q_b)
