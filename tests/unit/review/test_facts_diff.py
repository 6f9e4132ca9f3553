"""Which unparsed files `--diff` reads to follow a change: callers by name, callees by
what looks like their definition in each language."""

from __future__ import annotations

from vulnsight.review.facts_diff import _defining, _naming
from vulnsight.types import SourceFile


def files(**texts: str) -> list[SourceFile]:
    return [
        SourceFile(path=p.replace("_", "."), text=t, language="python") for p, t in texts.items()
    ]


def paths(found: list[SourceFile]) -> list[str]:
    return sorted(f.path for f in found)


def test_definitions_in_each_language_are_found_and_calls_are_not() -> None:
    tree = files(
        a_py="def leaf(command):\n    pass\n",
        b_js="function leaf(x) {\n}\n",
        c_js="const leaf = (x) => x;\n",
        d_js="class K {\n  leaf(x) {\n    return x;\n  }\n}\n",
        e_c="int leaf(const char *command)\n{\n    return 0;\n}\n",
        f_sol="contract C { function leaf(address a) public {} }\n",
        g_py="leaf(x)\nobj.leaf(y)\nmyleaf(z)\n",
        h_c="int main(void) { return leaf(x); }\n",
        i_js="module.exports = { leaf: function (x) { return x; } };\n",
    )
    assert paths(_defining(tree, {"leaf"})) == [
        "a.py",
        "b.js",
        "c.js",
        "d.js",
        "e.c",
        "f.sol",
        "i.js",
    ]
    assert paths(_defining(tree, set())) == []


def test_callers_are_found_by_the_whole_word() -> None:
    tree = files(a_py="x = middle(v)\n", b_py="x = middleware(v)\n", c_py="import middle\n")
    assert paths(_naming(tree, {"middle"})) == ["a.py", "c.py"]
    assert paths(_naming(tree, {"not a name"})) == []
