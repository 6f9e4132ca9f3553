from vulnsight.llm.prompt import PROMPT_VERSION, render
from vulnsight.llm.schema import schema_text


def test_prefix_is_shared_and_quotes_the_schema():
    a = render("1| int f() { return 0; }", "c")
    b = render("7| def g(): pass", "python")
    assert a.prefix == b.prefix
    assert schema_text() in a.prefix
    assert "1| int f() { return 0; }" in a.body and "7| def g(): pass" in b.body
    assert a.body.endswith('Verdict: {"vulnerability":')
    assert PROMPT_VERSION == "verdict_v1"


def test_braces_and_placeholders_in_code_are_left_alone():
    code = '1| x = "{language} {schema} {reply_prefix}"'
    p = render(code, "python")
    assert code in p.body
    assert '<code language="python">' in p.body


def test_instruction_drops_the_forced_reply_prefix():
    p = render("1| x", "c")
    assert not p.instruction.endswith('{"vulnerability":')
    assert p.instruction.endswith("Verdict:")
