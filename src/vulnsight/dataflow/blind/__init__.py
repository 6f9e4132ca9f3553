"""Checks for the weakness classes the rule pack and the taint engine are blind to.

C/C++: an allocation used before its NULL check, `p = realloc(p, n)`, off-by-one writes,
`strncpy` with no terminator, signed lengths bounded above only, truncated lengths.
Solidity: reentrancy, missing access control, arithmetic that wraps, loops that pay out
over growable arrays. Python: shell commands, SQL and `eval` code built by pasting a value
into a string, Jinja2 without autoescaping. Each check reads one function's (or contract's,
or Python file's) tree-sitter parse and states its CWE and a measured confidence; findings
carry the steps that lead to the flagged line. Pure: `run_checks(files, functions)` prints
and reads nothing.
"""

from vulnsight.dataflow.blind.run import CHECKS, run_checks

__all__ = ["CHECKS", "run_checks"]
