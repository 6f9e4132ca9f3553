"""Per-language thresholds: chosen under a clean-code flag-rate cap, turned off where the
model does not help, and honoured by the scanner, the hybrid merge and the manifest."""

from __future__ import annotations

import json
import math

import pytest

from vulnsight.config import ScanConfig
from vulnsight.detectors import effective_thresholds
from vulnsight.detectors.hybrid import merge
from vulnsight.detectors.llm import LLMDetector, LLMOptions
from vulnsight.errors import ConfigError
from vulnsight.llm.fake import FakeBackend
from vulnsight.llm.models import resolve
from vulnsight.pipeline import scan
from vulnsight.train.calibrate import Scored, choose_thresholds
from vulnsight.types import Finding, Function


def scored(language, label, *scores):
    return [Scored(language, label, s) for s in scores]


def test_threshold_is_the_best_j_that_keeps_clean_code_under_the_cap():
    labelled = scored("c", 1, 0.9, 0.8, 0.7, 0.6, 0.4) + scored("c", 0, 0.65, 0.3, 0.2)
    # at a 10% cap only one of these ten clean functions may be flagged
    clean = scored("c", 0, 0.75, 0.7, 0.5, 0.45, 0.4, 0.3, 0.3, 0.2, 0.1, 0.1)
    _, rows = choose_thresholds(labelled, clean, max_flag_rate=0.1)
    (c,) = rows
    # 0.7 has the best J (0.6) but flags 2 of 10 clean; 0.75 and 0.8 tie at J 0.4 and
    # the tie goes to the threshold that flags less
    assert c.threshold == 0.8 and c.clean_flag_rate == 0.0
    assert c.recall == pytest.approx(2 / 5) and c.fpr == 0.0
    _, loose = choose_thresholds(labelled, clean, max_flag_rate=0.3)
    assert loose[0].threshold == 0.7 and loose[0].recall == pytest.approx(3 / 5)
    assert loose[0].clean_flag_rate == pytest.approx(0.2)


def test_a_language_where_the_model_has_no_signal_is_turned_off():
    labelled = scored("solidity", 1, 0.2, 0.3, 0.25, 0.1, 0.3) + scored("solidity", 0, 0.6, 0.5)
    _, rows = choose_thresholds(labelled, scored("solidity", 0, 0.1, 0.2), max_flag_rate=0.5)
    assert rows[0].threshold is None and rows[0].how.startswith("off")
    assert rows[0].recall == 0.0 and rows[0].clean_flag_rate == 0.0


def test_few_positives_take_the_pooled_threshold_raised_to_fit_their_clean_code():
    labelled = scored("c", 1, 0.9, 0.8, 0.7, 0.65, 0.6) + scored("c", 0, 0.3, 0.2)
    labelled += scored("typescript", 1, 0.9)
    clean = scored("c", 0, 0.1, 0.2, 0.1, 0.2, 0.1, 0.2)
    clean += scored("typescript", 0, 0.95, 0.7, 0.5, 0.4)
    pooled, rows = choose_thresholds(labelled, clean, max_flag_rate=0.25)
    ts = next(r for r in rows if r.language == "typescript")
    assert pooled == 0.7  # 0.5 would flag 3 of the 10 clean functions
    assert ts.threshold == 0.95 and ts.how.startswith("pooled")  # 0.7 flags 2 of its 4
    with pytest.raises(ValueError):
        choose_thresholds(labelled, clean, max_flag_rate=1.5)


def test_the_scanner_uses_each_languages_threshold(tmp_path):
    (tmp_path / "a.py").write_text("def f(x):\n    return eval(x)\n")
    (tmp_path / "b.c").write_text("int g(char *s) {\n  return s[10];\n}\n")
    verdict = {"vulnerability": True, "type": "CWE-94", "line_number": 2, "confidence": 0.7}
    backend = FakeBackend(responder=lambda prompt: verdict)
    options = LLMOptions(threshold=0.5, by_language={"c": math.inf, "python": 0.6})
    report = scan([tmp_path], ScanConfig(detectors=("llm",)), [LLMDetector(backend, options)])
    assert [f.file for f in report.findings] == ["a.py"]  # C is off for the model...
    assert len(backend.seen) == 1 and "eval" in backend.seen[0].text  # ...and never asked
    assert report.stats["llm_languages_off"] == 1
    strict = LLMOptions(threshold=0.5, by_language={"python": 0.8})
    report = scan([tmp_path], ScanConfig(detectors=("llm",)), [LLMDetector(backend, strict)])
    assert [f.file for f in report.findings] == ["b.c"]  # C falls back to 0.5


def test_a_rule_hit_is_kept_and_agreement_follows_the_language_threshold():
    fn = Function("x.sol", "solidity", "pay", 1, 5, "function pay() {}", "pay()")
    hit = Finding(
        file="x.sol",
        line_number=2,
        cwe="CWE-841",
        message="reentrancy",
        detector="rules",
        confidence=0.8,
        rule_id="sol.reentrancy",
        detectors=("rules",),
    )
    agreed = merge([hit], [], {fn.qualified_id: 0.7}, [fn], 0.5)
    off = merge([hit], [], {fn.qualified_id: 0.7}, [fn], 0.5, {"solidity": math.inf})
    assert agreed[0].detectors == ("rules", "llm")
    assert off[0].detectors == ("rules",) and off[0].rule_id == "sol.reentrancy"


def test_manifest_thresholds_load_and_a_user_threshold_overrides_them(tmp_path):
    (tmp_path / "vulnsight-model.json").write_text(
        json.dumps(
            {"base_gguf": "default", "threshold": 0.55, "thresholds": {"c": 0.6, "solidity": None}}
        )
    )
    kwargs = resolve(str(tmp_path)).kwargs
    assert kwargs["language_thresholds"] == {"c": 0.6, "solidity": math.inf}

    class Model:
        default_threshold = kwargs["threshold"]
        language_thresholds = kwargs["language_thresholds"]

    assert effective_thresholds(None, Model()) == (0.55, {"c": 0.6, "solidity": math.inf})
    assert effective_thresholds(0.9, Model()) == (0.9, {})
    assert effective_thresholds(None, None) == (0.5, {})
    (tmp_path / "vulnsight-model.json").write_text(json.dumps({"thresholds": {"c": 2}}))
    with pytest.raises(ConfigError, match="threshold for c"):
        resolve(str(tmp_path))


def test_the_model_card_section_is_replaced_not_repeated():
    from vulnsight.train.calibrate_command import with_section

    card = "# m\n\n## Data\n\nx\n"
    once = with_section(card, "## Per-language thresholds\n\nold\n")
    twice = with_section(once + "\n## Later\n\ny\n", "## Per-language thresholds\n\nnew\n")
    assert once == "# m\n\n## Data\n\nx\n\n## Per-language thresholds\n\nold\n"
    assert twice == "# m\n\n## Data\n\nx\n\n## Per-language thresholds\n\nnew\n\n## Later\n\ny\n"


def test_with_rule_verdicts_a_language_keeps_the_model_only_where_it_adds_to_the_rules():
    def s(language, label, score, rule_hit):
        return Scored(language, label, score, rule_hit)

    # python: the model finds what the rules already find, plus a false positive
    py = [s("python", 1, 0.9, True) for _ in range(5)] + [s("python", 0, 0.8, False)]
    py += [s("python", 0, 0.1, False) for _ in range(4)]
    # javascript: the model finds three the rules miss
    js = [s("javascript", 1, 0.9, False) for _ in range(3)]
    js += [s("javascript", 1, 0.2, True) for _ in range(2)]
    js += [s("javascript", 0, 0.3, False) for _ in range(5)]
    sol = [s("solidity", 1, 0.9, False), s("solidity", 0, 0.1, False)]
    clean = scored("typescript", 0, 0.95, 0.3, 0.2, 0.1)
    _, rows = choose_thresholds(py + js + sol, clean, max_flag_rate=0.25)
    got = {r.language: r for r in rows}
    assert got["python"].threshold is None and "do not beat the rules" in got["python"].how
    assert got["javascript"].threshold == 0.9
    # typescript borrows it, raised so that at most 1 of its 4 clean functions is flagged
    assert got["typescript"].threshold == 0.95 and got["typescript"].how.startswith("from")
    assert got["solidity"].threshold is None  # one vulnerable example shows nothing
    # without rule verdicts the same python scores keep a threshold of their own
    plain = [Scored(x.language, x.label, x.score) for x in py]
    assert choose_thresholds(plain, [], max_flag_rate=0.25)[1][0].threshold is not None
