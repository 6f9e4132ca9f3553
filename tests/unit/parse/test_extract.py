"""Function extraction: names, kinds and exact line spans per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from vulnsight.errors import ParseError
from vulnsight.languages import language_of
from vulnsight.parse import extract, parse_errors, parse_source
from vulnsight.types import Function, SourceFile

FIXTURES = Path(__file__).parents[2] / "fixtures" / "parse"


def load(name: str) -> list[Function]:
    path = FIXTURES / name
    language = language_of(path)
    assert language is not None
    return extract(SourceFile(name, language, path.read_text()))


def spans(functions: list[Function]) -> dict[str, tuple[int, int]]:
    return {f.name: (f.start_line, f.end_line) for f in functions}


def by_name(functions: list[Function], name: str) -> Function:
    return next(f for f in functions if f.name == name)


def test_cpp_functions_and_methods() -> None:
    functions = load("sample.cpp")
    assert spans(functions) == {
        "Ns::Foo::bar": (6, 6),
        "Ns::Foo::Foo": (7, 7),
        "Ns::Foo::qux": (10, 13),
        "add": (16, 17),
        "helper": (19, 22),
    }
    qux = by_name(functions, "Ns::Foo::qux")
    assert qux.kind == "method"
    assert qux.signature == "int Foo::qux(char *s) const"
    assert qux.calls == ("strcpy", "move", "size")
    assert by_name(functions, "Ns::Foo::Foo").kind == "constructor"
    assert by_name(functions, "helper").calls == ("m",)


def test_python_methods_nested_and_toplevel() -> None:
    functions = load("views.py")
    assert spans(functions) == {
        "<toplevel>": (1, 30),
        "Store.load": (13, 18),
        "Store.load.inner": (15, 16),
        "Store.save": (20, 21),
        "run": (24, 26),
    }
    assert by_name(functions, "Store.load").kind == "method"
    assert by_name(functions, "Store.load.inner").calls == ("popen", "read")
    assert by_name(functions, "Store.load").calls == ("inner",)
    toplevel = by_name(functions, "<toplevel>")
    assert toplevel.kind == "toplevel"
    code = toplevel.code.split("\n")
    assert code[28] == 'if __name__ == "__main__":'
    assert code[14] == ""  # a line of Store.load is blanked out
    assert by_name(functions, "run").signature == "def run():"


def test_javascript_arrows_handlers_and_methods() -> None:
    functions = load("app.js")
    assert spans(functions) == {
        "<toplevel>": (1, 30),
        "f": (4, 6),
        "obj.m": (8, 10),
        "C.field": (13, 13),
        "C.method": (14, 17),
        "o.k": (20, 20),
        "o.j": (20, 20),
        "app.get('/x') handler": (22, 24),
        "helper": (26, 28),
    }
    handler = by_name(functions, "app.get('/x') handler")
    assert handler.calls == ("send",)
    assert handler.code.startswith("app.get('/x', (req, res) => {")
    assert by_name(functions, "C.method").kind == "method"
    assert by_name(functions, "f").signature == "const f = async (a, b) =>"


def test_typescript_with_types() -> None:
    functions = load("api.ts")
    assert spans(functions) == {
        "findUser": (7, 9),
        "Service.get": (14, 16),
        "Service.abstract_like": (18, 18),
        "handler": (21, 23),
    }
    assert by_name(functions, "Service.get").calls == ("findUser",)
    assert by_name(functions, "handler").calls == ("json", "findUser")


def test_tsx_uses_the_tsx_grammar() -> None:
    text = "export const App = () => <div onClick={() => go()}>hi</div>;\n"
    result = parse_source(SourceFile("a.tsx", "typescript", text))
    assert result.error_count == 0
    assert [(f.name, f.calls) for f in result.functions] == [("App", ("go",))]


def test_solidity_function_modifier_constructor() -> None:
    functions = load("Vault.sol")
    assert spans(functions) == {
        "Vault.onlyOwner": (10, 13),
        "Vault.constructor": (15, 17),
        "Vault.withdraw": (19, 23),
        "Vault.fallback": (25, 25),
        "Vault.receive": (27, 29),
    }
    assert by_name(functions, "Vault.onlyOwner").kind == "modifier"
    assert by_name(functions, "Vault.constructor").kind == "constructor"
    assert by_name(functions, "Vault.withdraw").calls == ("onlyOwner", "call", "require")


def test_code_is_the_exact_lines() -> None:
    path = FIXTURES / "views.py"
    lines = path.read_text().split("\n")
    for fn in load("views.py"):
        if fn.kind != "toplevel":
            assert fn.code == "\n".join(lines[fn.start_line - 1 : fn.end_line])


def test_toplevel_omitted_when_only_imports() -> None:
    text = "import os\nfrom x import y\n\n\ndef f():\n    return os.getcwd()\n"
    functions = extract(SourceFile("m.py", "python", text))
    assert [f.name for f in functions] == ["f"]
    c_text = '#include <stdio.h>\n\nint main(void) { puts("x"); return 0; }\n'
    assert [f.name for f in extract(SourceFile("m.c", "c", c_text))] == ["main"]


def test_syntax_error_still_yields_good_functions() -> None:
    text = (
        "int good(int a) {\n  return a;\n}\n\nint bad(int a {\n  return a +;\n}\n\n"
        "int also_good(void) {\n  return good(1);\n}\n"
    )
    source = SourceFile("bad.c", "c", text)
    result = parse_source(source)
    assert result.has_error
    assert parse_errors(source) == result.error_count > 0
    assert spans(list(result.functions)) == {"good": (1, 3), "also_good": (9, 11)}
    py = "def good():\n    return 1\n\ndef bad(:\n    return 2\n\ndef also_good():\n    return 3\n"
    names = [f.name for f in extract(SourceFile("bad.py", "python", py))]
    assert "good" in names and "also_good" in names


def test_a_function_in_an_error_region_is_extracted_once() -> None:
    """An unterminated `#ifdef` makes the function part of a top-level ERROR node that
    both the walk and the recovery read (libxml2's parser.c: 166 functions twice, so two
    mined pairs shared one id)."""
    text = "#ifdef V\nint\nhas(int feature)\n{\n    return feature;\n}\n *  stray\n"
    functions = extract(SourceFile("e.c", "c", text))
    assert [(f.name, f.start_line, f.end_line) for f in functions] == [("has", 2, 6)]


def test_clean_file_has_no_errors() -> None:
    assert parse_errors(SourceFile("a.js", "javascript", "function f() {}\n")) == 0


def test_unknown_language_raises() -> None:
    with pytest.raises(ParseError):
        extract(SourceFile("a.rb", "ruby", "def f; end"))


def test_large_generated_file() -> None:
    body = "".join(f"int f{i}(int x) {{\n  return f{i - 1}(x) + {i};\n}}\n\n" for i in range(2500))
    functions = extract(SourceFile("big.c", "c", body))
    assert len(body.split("\n")) > 10_000
    assert len(functions) == 2500
    assert (functions[-1].start_line, functions[-1].end_line) == (9997, 9999)


def test_object_members_cut_from_their_literal_parse_without_crashing() -> None:
    # Error recovery leaves loose nodes that cover only blank lines (a fragment of an
    # object literal, as in a dataset record): no top-level pseudo-function, no crash.
    text = "\n  a : function(){\n    x();\n  },\n\n  c: function(y) {"
    parsed = parse_source(SourceFile("frag.js", "javascript", text))
    assert all(f.kind != "toplevel" or f.code.strip() for f in parsed.functions)
