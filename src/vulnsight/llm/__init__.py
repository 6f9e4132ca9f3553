"""vulnsight.llm."""
