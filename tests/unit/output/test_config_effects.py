"""What a repository's configuration changed, as text and JSON show it."""

from __future__ import annotations

import json

from vulnsight.output.json_format import render as json_render
from vulnsight.output.text import render
from vulnsight.textsafe import safe_text as printable
from vulnsight.types import ConfigEffect, Report


def report() -> Report:
    return Report(
        (),
        stats={"suppressed_inline": 2, "suppressed_baseline": 4, "suppressed_triage": 0},
        config=(
            ConfigEffect(
                "baseline", "applied", "4 findings hidden by baseline b.json", "v.toml", 4
            ),
            ConfigEffect(
                "min_confidence", "limited", "min_confidence 1.0 limited to 0.3", "v.toml"
            ),
            ConfigEffect("model", "applied", "model 'x'", "/home/u/c.toml", origin="user"),
        ),
    )


def test_text_lists_repository_effects_and_suppressions():
    text = render(report())
    assert (
        "repository configuration changed (v.toml):\n"
        "  baseline: 4 findings hidden by baseline b.json\n"
        "  min_confidence: min_confidence 1.0 limited to 0.3 [limited]\n"
        "suppressed: 6 finding(s) not shown (inline mark 2, baseline 4)\n"
    ) in text
    assert "c.toml" not in text  # the user's own settings are not news to the user


def test_json_records_every_effect():
    doc = json.loads(json_render(report()))
    assert [(e["key"], e["action"], e["count"], e["origin"]) for e in doc["config"]] == [
        ("baseline", "applied", 4, "repository"),
        ("min_confidence", "limited", None, "repository"),
        ("model", "applied", None, "user"),
    ]


def test_control_and_bidi_characters_are_escaped():
    assert printable("a\u202eb\u200bc\x1b[31m\n") == "a\\u202eb\\u200bc\\x1b[31m\\x0a"
    effect = ConfigEffect("baseline", "applied", "hidden by \u202egpj.b", "v.toml")
    assert "\u202e" not in render(Report((), config=(effect,)))
