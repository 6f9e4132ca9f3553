"""`vulnsight scan --profile`: per-stage timings on stderr and in the JSON stats."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.semgrep]

C_CODE = """\
#include <string.h>

void copy(char *dst, const char *src) {
    strcpy(dst, src);
}
"""


def test_profile_prints_the_stages_and_the_json_carries_them(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "copy.c").write_text(C_CODE)
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vulnsight.cli",
            "scan",
            str(tmp_path / "src"),
            "--detectors",
            "rules",
            "--format",
            "json",
            "-o",
            str(out),
            "--profile",
            "--no-progress",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr  # the strcpy rule fires
    labels = [line.split("  ")[0] for line in proc.stderr.splitlines() if "  " in line]
    for label in ("discovery", "parsing", "call graph", "merge", "output", "functions"):
        assert label in labels, proc.stderr
    assert any(label.startswith("semgrep") for label in labels)
    stats = json.loads(out.read_text())["stats"]
    for key in ("time_discovery_s", "time_parsing_s", "time_callgraph_s", "time_semgrep_s",
                "time_merge_s"):  # fmt: skip
        assert isinstance(stats[key], float) and stats[key] >= 0.0, key
    findings = json.loads(out.read_text())["findings"]
    assert [(f["file"], f["line_number"]) for f in findings] == [("copy.c", 4)]
