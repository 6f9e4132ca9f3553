"""vulnsight.rules."""
