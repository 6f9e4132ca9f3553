"""Evaluation: labelled records, detector adapters, metrics, reports (`vulnsight eval`).

Nothing here is imported by `vulnsight scan`; the CLI loads it lazily.
"""
