"""vulnsight.parse."""
