"""Inter-procedural taint analysis over the tree-sitter parse and the call graph.

A pure layer beside `rules/`: `analyse(files, functions, graph)` returns findings whose
`path` runs from a source (request data, argv, environment, stdin) to a sink (SQL,
shell, eval, file paths, redirects, templates, deserialisation), through assignments,
containers, string building, calls and returns, across files. Sources, sinks and
sanitisers are data (`specs/<language>.toml`). Prints nothing, knows no CLI.
"""

from vulnsight.dataflow.scan import FlowResult, analyse
from vulnsight.dataflow.spec import LanguageSpec, has_spec, load_spec

__all__ = ["FlowResult", "LanguageSpec", "analyse", "has_spec", "load_spec"]
