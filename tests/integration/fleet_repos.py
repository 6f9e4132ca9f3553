"""Small git repositories for the fleet tests: each has its own code and a copy of the
same vendored library (identical functions across repositories)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import vulnsight

SRC = Path(vulnsight.__file__).resolve().parents[1]

VENDORED = """#include <string.h>

void vendor_copy(char *dst, const char *src) {
    strcpy(dst, src);
}

int vendor_len(const char *s) {
    int n = 0;
    while (s[n]) { n++; }
    return n;
}
"""

OWN = {
    "alpha": {
        "app.py": "import os\n\n\ndef run(cmd):\n    return os.system(cmd)\n\n\n"
        "def add(a, b):\n    return a + b\n",
    },
    "beta": {
        "server.js": "function handler(req, res) {\n  res.send(eval(req.query.expr));\n}\n\n"
        "function twice(x) {\n  return helper(x) * 2;\n}\n",
    },
    "gamma": {
        "tool.py": "import pickle\nimport subprocess\n\n\ndef load(blob):\n"
        "    return pickle.loads(blob)\n\n\ndef shell(arg):\n"
        "    return subprocess.call(arg, shell=True)\n",
    },
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def make_repos(base: Path) -> list[Path]:
    """alpha, beta and gamma: one commit each, each with vendor/strlib.c."""
    out = []
    for name, files in OWN.items():
        repo = base / name
        (repo / "vendor").mkdir(parents=True)
        (repo / "vendor" / "strlib.c").write_text(VENDORED)
        for rel, text in files.items():
            (repo / rel).write_text(text)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "init")
        out.append(repo)
    return out


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.update(extra or {})
    return env


def vulnsight_scan(repo: Path, fmt: str = "json") -> str:
    """`vulnsight scan REPO --model fake` as a subprocess: the reference."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vulnsight.cli",
            "scan",
            str(repo),
            "--model",
            "fake",
            "--no-progress",
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout
