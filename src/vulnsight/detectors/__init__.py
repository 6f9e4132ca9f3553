"""vulnsight.detectors."""
