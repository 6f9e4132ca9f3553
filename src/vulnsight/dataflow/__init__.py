"""Inter-procedural taint analysis over the tree-sitter parse and the call graph.

A pure layer beside `rules/`: `analyse(files, functions, graph)` returns findings whose
`path` runs from a source (request data, argv, environment, stdin; in Solidity the
arguments of unrestricted public functions, msg.sender/value/data, data returned by
external calls) to a sink (SQL, shell, eval, file paths, redirects, templates,
deserialisation; delegatecall/call targets, selfdestruct, ether transfers), through assignments,
containers, string building, calls and returns, across files. Sources, sinks and
sanitisers are data (`specs/<language>.toml`). With them, per-function facts
(`facts.py`: tainted parameters, sinks reached, paths) for the model and the verdict
cache. Prints nothing, knows no CLI.
"""

from vulnsight.dataflow.scan import FlowResult, analyse
from vulnsight.dataflow.spec import LanguageSpec, has_spec, load_spec

__all__ = ["FlowResult", "LanguageSpec", "analyse", "has_spec", "load_spec"]
