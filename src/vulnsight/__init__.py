"""vulnsight: a local-first hybrid code vulnerability scanner."""

__version__ = "0.1.0"
