"""The code review workflow around `vulnsight scan`: incremental cache, `--diff`,
baselines, suppressions, configuration files, triage feedback and the local API.

Nothing is imported or opened at import time; each module loads on first use.
"""
