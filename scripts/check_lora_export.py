"""Check that a LoRA adapter exported to GGUF changes llama.cpp's decision exactly as
PEFT changes the transformers model's: P(vulnerable) from both, base and adapted.

    python scripts/check_lora_export.py MODEL_DIR [--scale 30]

`--scale` multiplies the adapter's B matrices first so that even a briefly trained
adapter moves the decision visibly (the check is about the export, not the training).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

from safetensors.torch import load_file, save_file

from vulnsight.llm.models import embedded_model_path, load
from vulnsight.llm.prompt import render
from vulnsight.train.export import lora_to_gguf

SNIPPETS = [
    ("c", "10| void copy(char *s) {\n11|     char buf[16];\n12|     strcpy(buf, s);\n13| }"),
    (
        "python",
        "1| def q(db, name):\n2|     return db.execute(\"SELECT * FROM t WHERE n='%s'\" % name)",
    ),
    ("javascript", "5| function add(a, b) {\n6|   return a + b;\n7| }"),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--scale", type=float, default=30.0)
    args = ap.parse_args()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = embedded_model_path()
    with tempfile.TemporaryDirectory() as tmp:
        adapter = Path(tmp) / "adapter"
        shutil.copytree(args.model_dir / "adapter", adapter)
        state = load_file(str(adapter / "adapter_model.safetensors"))
        state = {k: (v * args.scale if "lora_B" in k else v) for k, v in state.items()}
        save_file(state, str(adapter / "adapter_model.safetensors"))
        cfg = json.loads((adapter / "adapter_config.json").read_text())
        tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        hf = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
        )
        lora_gguf = Path(tmp) / "adapter.gguf"
        lora_to_gguf(state, hf.config, cfg["lora_alpha"], lora_gguf)
        t_id, f_id = (
            tok.encode(" true", add_special_tokens=False)[0],
            tok.encode(" false", add_special_tokens=False)[0],
        )

        def hf_p(model: object) -> list[float]:
            out = []
            for lang, code in SNIPPETS:
                p = render(code, lang)
                ids = (
                    [tok.bos_token_id]
                    + tok.encode(p.prefix, add_special_tokens=False)
                    + tok.encode(p.body, add_special_tokens=False)
                )
                with torch.no_grad():
                    last = model(input_ids=torch.tensor([ids])).logits[0, -1]  # type: ignore[operator]
                out.append(1 / (1 + math.exp(float(last[f_id] - last[t_id]))))
            return out

        rows = {"transformers base": hf_p(hf)}
        rows["transformers + PEFT"] = hf_p(PeftModel.from_pretrained(hf, str(adapter)))
        prompts = [render(code, lang) for lang, code in SNIPPETS]
        for label, kw in (
            ("llama.cpp base", {}),
            ("llama.cpp + GGUF LoRA", {"lora_path": lora_gguf}),
        ):
            backend = load("base", **kw)
            rows[label] = [d.p_vulnerable for d in backend.decide(prompts)]
            backend.close()
    for label, ps in rows.items():
        print(f"{label:24s} " + "  ".join(f"{p:.4f}" for p in ps))


if __name__ == "__main__":
    main()
