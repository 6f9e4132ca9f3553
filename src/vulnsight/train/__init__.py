"""Fine-tuning (optional extra `train`): QLoRA on CUDA, LoRA on full-precision weights
elsewhere, with the scanner's own prompt and verdict schema."""
