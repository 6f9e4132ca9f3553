"""The Python blind checks (`vulnsight.dataflow.blind.python`): commands, queries and code
built by pasting a value into a string, and Jinja2 without autoescaping, flagged at their
(rule, line); the constant, quoted, list-argument and bound-parameter twins stay silent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vulnsight.dataflow.blind import run_checks
from vulnsight.parse.extract import extract
from vulnsight.types import SourceFile

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "blind" / "python" / "built.py"
P = "vulnsight.flow.python."


def _run(text: str) -> list[tuple[int, str, str]]:
    source = SourceFile("a.py", "python", text)
    findings, errors = run_checks([source], extract(source))
    assert errors == []
    return [(f.line_number, f.cwe, f.rule_id or "") for f in findings]


def test_the_fixture_is_flagged_exactly() -> None:
    assert _run(FIXTURE.read_text()) == [
        (11, "CWE-78", P + "shell-command-built"),  # os.system("..." + name)
        (20, "CWE-78", P + "shell-command-built"),  # f-string, shell=True
        (34, "CWE-78", P + "shell-command-built"),  # self._run_ssh("... %s" % host)
        (44, "CWE-78", P + "shell-command-built"),  # exec_command, then cmd += constant
        (51, "CWE-89", P + "sql-query-built"),  # "SELECT ... %d" % game
        (63, "CWE-89", P + "sql-query-built"),  # """INSERT ...""".format(...)
        (76, "CWE-95", P + "eval-built-code"),  # eval("(" + expression + ") * 2")
        (84, "CWE-79", P + "jinja2-autoescape-off"),  # Environment(loader=...)
    ]


@pytest.mark.parametrize(
    "code",
    [
        'import os\ndef f(x):\n    os.system("ls " + shlex.quote(x))\n',
        'import os\nMODE = "-l"\ndef f():\n    os.system("ls " + MODE)\n',
        'import os\ndef f():\n    d = "/tmp"\n    os.system("ls %s" % d)\n',
        "import subprocess\ndef f(x):\n    subprocess.run('ls %s' % x)\n",  # no shell
        "def f(self, host):\n    self._run_ssh(['ls', host])\n",
        "def f(self, n):\n    self.run_query('rows: %s' % n)\n",  # not a command line
        'def f(c, x):\n    c.execute("SELECT a FROM t WHERE b = %s" % int(x))\n',
        'def f(c, t, x):\n    c.execute("SELECT a FROM %s WHERE b = %%s" % t, [x])\n',
        'def f(c, x):\n    c.execute("SELECT a FROM t WHERE b = %s", (x,))\n',
        'def f(c, x):\n    c.execute(f"SELECT a FROM t WHERE b = {x}", params={"x": x})\n',
        'def f(log, x):\n    log.info("SELECT a FROM t WHERE b = %s" % x)\n',
        "def f(x):\n    return eval(x)\n",  # not built: the taint engine's
        "def f(e, p):\n    return e.Environment(loader=p, autoescape=True)\n",
    ],
)
def test_near_misses_stay_silent(code: str) -> None:
    assert _run(code) == []


def test_module_statements_and_dispatch_tables_are_read() -> None:
    code = (
        "import os\n"
        "name = input()\n"
        "os.system('rm -rf /tmp/' + name)\n"
        "def grains(key):\n"
        "    return __salt__['cmd.run']('salt-call grains.get {0}'.format(key))\n"
    )
    assert _run(code) == [
        (3, "CWE-78", P + "shell-command-built"),
        (5, "CWE-78", P + "shell-command-built"),
    ]


def test_the_path_shows_where_the_string_was_built() -> None:
    source = SourceFile("a.py", "python", FIXTURE.read_text())
    findings, _ = run_checks([source], extract(source))
    (grep,) = [f for f in findings if f.line_number == 20]
    assert [(s.line, s.function) for s in grep.path] == [(19, "grep"), (20, "grep")]
    assert grep.path[0].description.startswith("string built with pattern")


@pytest.mark.parametrize(
    "check",
    [
        'if not re.match("^[a-z]+$", user):\n        return',
        "if not user.isalnum():\n        return",
        "if user not in ALLOWED:\n        return",
    ],
)
def test_a_value_checked_before_it_is_pasted_is_clean(check: str) -> None:
    code = f"import os\ndef f(user):\n    {check}\n    os.system('id ' + user)\n"
    assert _run(code) == []
    unchecked = "import os\ndef f(user):\n    os.system('id ' + user)\n"
    assert _run(unchecked) == [(3, "CWE-78", P + "shell-command-built")]


def test_classes_named_like_runners_are_not_run() -> None:
    assert _run("def f(cmd):\n    raise SystemExit('cannot run %s' % cmd)\n") == []


@pytest.mark.parametrize(
    "code",
    [
        'def f(c, db, name):\n    c.execute(\'ATTACH DATABASE "%s" AS "%s"\' % (db, name))\n',
        "def f(self, p):\n    self.execute_sql('PRAGMA foreign_keys = %s' % p)\n",
    ],
)
def test_upper_case_statements_to_database_calls_are_not_commands(code: str) -> None:
    assert _run(code) == []


def test_a_check_counts_where_it_holds() -> None:
    # the failed check does not leave: the query still runs with the unchecked value
    kept = (
        "def f(c, email):\n"
        "    if not re.match('^[a-z]+@[a-z.]+$', email):\n"
        "        error = 'bad'\n"
        "    c.execute(\"SELECT * FROM users WHERE email = '%s'\" % email)\n"
    )
    assert _run(kept) == [(4, "CWE-89", P + "sql-query-built")]
    # inside the branch a successful check takes, and not after it
    inside = (
        "import os\n"
        "def f(name, seen):\n"
        "    if name in ALLOWED:\n"
        "        os.system('id ' + name)\n"
        "    if name not in seen:\n"
        "        os.system('id ' + name)\n"
    )
    assert _run(inside) == [(6, "CWE-78", P + "shell-command-built")]


def test_upper_case_parameters_are_not_constants() -> None:
    code = "def f(db, ID):\n    db.execute('SELECT * FROM games WHERE ID = %i' % ID)\n"
    assert _run(code) == [(2, "CWE-89", P + "sql-query-built")]


@pytest.mark.parametrize(
    "code",
    [
        # a local alias of a quoting function
        "def f(c, conn, table):\n"
        "    qn = conn.ops.quote_name\n"
        "    c.execute('DELETE FROM %s' % qn(table))\n",
        # every element of the pasted list is quoted
        "def f(c, conn, table, cols):\n"
        "    qn = conn.ops.quote_name\n"
        "    c.execute('SELECT %s FROM t' % ', '.join(qn(x) for x in cols))\n",
    ],
)
def test_quoted_identifiers_are_clean(code: str) -> None:
    assert _run(code) == []


@pytest.mark.parametrize(
    ("query", "flagged"),
    [
        ("\"SELECT a FROM t WHERE b = '%s'\" % x", True),
        ("\"SELECT a FROM t WHERE b LIKE '%%%s%%'\" % x", True),
        ('"SELECT a FROM t LIMIT {}".format(x)', True),
        ('f"INSERT INTO t (a, b) VALUES (1, {x})"', True),
        ('"DELETE FROM t WHERE id IN (" + x + ")"', True),
        ('"SELECT a FROM %s" % x', False),  # an identifier: no parameter can take it
        ('f"INSERT INTO {x} (a) SELECT a FROM s"', False),
        ('"CREATE TABLE %s (%s)" % (x, x)', False),
    ],
)
def test_only_values_pasted_where_a_parameter_would_go_are_flagged(
    query: str, flagged: bool
) -> None:
    code = f"def f(c, x):\n    c.execute({query})\n"
    assert _run(code) == ([(2, "CWE-89", P + "sql-query-built")] if flagged else [])


def test_a_string_doubled_on_every_line_is_read_in_linear_time() -> None:
    # each line reads the string twice: without the kept states and the caps this was
    # exponential (40 lines took 50 s; 20 more ran out of memory)
    body = "".join(f"    s = s + t{i % 3} + s\n" for i in range(2000))
    code = "import os\ndef f(t0, t1, t2):\n    s = 'ls '\n" + body + "    os.system(s)\n"
    started = time.perf_counter()
    assert _run(code) == [(2004, "CWE-78", P + "shell-command-built")]
    assert time.perf_counter() - started < 60
