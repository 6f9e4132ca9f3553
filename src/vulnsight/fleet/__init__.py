"""`vulnsight fleet`: one scan per repository of an organisation, on a Ray cluster.

`plan.py` and `summary.py` are the pure core (which repositories, where their outputs
go, what the organisation summary says); `export.py` turns a bare mirror into files
without running anything of it; `ledger.py` deduplicates model verdicts across
repositories; `remote.py` and `runner.py` are the Ray edge. Nothing outside this
package imports Ray, and nothing here imports the CLI.
"""
