"""vulnsight.output."""
