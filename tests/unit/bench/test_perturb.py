"""Perturbations change the text, keep it parseable, and keep line counts where promised."""

from __future__ import annotations

import pytest

from vulnsight.bench.perturb import PERTURBATIONS, perturb
from vulnsight.bench.records import Record, snippet_text

C = """int copy(char *dst, const char *src, int n)
{
    char buf[16];
    int i = 0;
    strcpy(buf, src);
    return i + n;
}
"""
PY = """def run(cmd, user):
    line = "echo " + cmd
    os.system(line)
    return user
"""
JS = """function handler(req, res) {
  const name = req.query.name;
  const obj = {name};
  res.send("<b>" + name + "</b>" + obj);
}
"""
SOL = """function withdraw(uint amount) public {
    uint bal = balances[msg.sender];
    msg.sender.call.value(amount)("");
    balances[msg.sender] = bal - amount;
}
"""
CASES = {"c": C, "python": PY, "javascript": JS, "solidity": SOL}


def record(language, code):
    return Record(
        id=f"t:{language}",
        language=language,
        code=code,
        label=1,
        source="t",
        project="t",
        lines=(3,),
    )


@pytest.mark.parametrize("language", sorted(CASES))
@pytest.mark.parametrize("name", PERTURBATIONS)
def test_perturbations_change_text_and_keep_lines_where_promised(language, name):
    r = record(language, CASES[language])
    out = perturb(r, name)
    assert out is not None and out != snippet_text(r)
    original_lines = snippet_text(r).count("\n")
    if name == "deadcode":
        assert out.count("\n") > original_lines
    else:
        assert out.count("\n") == original_lines


def test_rename_renames_locals_but_not_fields_or_calls():
    out = perturb(record("c", C), "rename")
    assert out is not None
    assert "strcpy(" in out and "buf" not in out and "src" not in out
    js = perturb(record("javascript", JS), "rename")
    assert js is not None
    # `name` feeds a shorthand property {name}: renaming it would change the object.
    assert "{name}" in js and "req.query" not in js and ".query.name" in js
    py = perturb(record("python", PY), "rename")
    assert py is not None and "os.system(" in py and "cmd" not in py


def test_comment_uses_the_language_comment_syntax_on_the_flagged_line():
    py = perturb(record("python", PY), "comment")
    assert py is not None and py.splitlines()[2].endswith("# no vulnerability here")
    c = perturb(record("c", C), "comment")
    assert c is not None and c.splitlines()[0].endswith("// this code is safe")


def test_python_deadcode_still_compiles():
    out = perturb(record("python", PY), "deadcode")
    assert out is not None
    compile(out, "x", "exec")
    assert "if False:" in out
