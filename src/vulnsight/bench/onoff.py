"""Model on or off, per language, from a `vulnsight eval` run on a source the model never
trained on (the pure core; `scripts/model_on_off.py` reads and writes the files).

The shipped model was trained on every corpus, so only a source it never saw (mined fix
pairs) can say whether it adds to the rules there. The model stays on in a language only
where the shipped hybrid's J beats rules+flow's by `MARGIN` on at least `MIN_EACH`
vulnerable and `MIN_EACH` clean held-out records; it is never turned on here (that needs a
calibrated threshold, which this run does not fit).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: J the shipped hybrid must add over rules+flow for the model to stay on
MARGIN = 0.02
#: held-out records of each label a language needs before its decision changes anything
MIN_EACH = 10
#: a language without enough records of its own follows this one's decision
FOLLOWS = {"typescript": "javascript"}


@dataclass(frozen=True)
class LanguageDecision:
    """Whether the model stays on in one language, and why."""

    language: str
    on: bool | None  # None: too few records, the manifest is left as it is
    reason: str
    hybrid_j: float | None = None
    base_j: float | None = None
    vulnerable: int = 0
    clean: int = 0


def _rows(results: Mapping[str, Any], detector: str) -> Mapping[str, Mapping[str, Any]]:
    for det in results.get("detectors", []):
        if det.get("detector") == detector:
            return dict(det.get("by_language") or {})
    raise KeyError(f"no detector {detector!r} in the results")


def decide(
    results: Mapping[str, Any], hybrid: str = "hybrid", base: str = "rules+flow"
) -> list[LanguageDecision]:
    """One decision per language the run scored (see the module's rule)."""
    hyb, ref = _rows(results, hybrid), _rows(results, base)
    out: dict[str, LanguageDecision] = {}
    for lang in sorted(set(hyb) & set(ref)):
        h, b = hyb[lang], ref[lang]
        vulnerable = int(h.get("tp", 0)) + int(h.get("fn", 0))
        clean = int(h.get("fp", 0)) + int(h.get("tn", 0))
        if vulnerable < MIN_EACH or clean < MIN_EACH:
            reason = f"{vulnerable} vulnerable / {clean} clean held-out records: too few"
            out[lang] = LanguageDecision(lang, None, reason, vulnerable=vulnerable, clean=clean)
            continue
        hj, bj = float(h["youden_j"]), float(b["youden_j"])
        on = hj - bj >= MARGIN
        reason = (
            f"held-out J {hj:.3f} ({hybrid}) vs {bj:.3f} ({base}) on {vulnerable} vulnerable"
            f" / {clean} clean: gain {hj - bj:+.3f} " + (">=" if on else "<") + f" {MARGIN}"
        )
        out[lang] = LanguageDecision(
            lang, on, reason, round(hj, 4), round(bj, 4), vulnerable, clean
        )
    for lang, leader in FOLLOWS.items():
        own = out.get(lang)
        lead = out.get(leader)
        if (own is None or own.on is None) and lead is not None and lead.on is not None:
            reason = f"follows {leader}: {lead.reason}"
            out[lang] = LanguageDecision(
                lang,
                lead.on,
                reason,
                vulnerable=own.vulnerable if own else 0,
                clean=own.clean if own else 0,
            )
    return [out[k] for k in sorted(out)]


def apply(
    manifest: Mapping[str, Any], decisions: Sequence[LanguageDecision], source: str
) -> dict[str, Any]:
    """A copy of a model manifest with the model off (threshold null) where a decision
    says off, and the decisions recorded under `held_out_decision`."""
    out = copy.deepcopy(dict(manifest))
    thresholds: dict[str, Any] = dict(out.get("thresholds") or {})
    recorded: dict[str, Any] = {}
    for d in decisions:
        was_on = thresholds.get(d.language) is not None
        if d.on is False and was_on:
            thresholds[d.language] = None
        now_on = thresholds.get(d.language) is not None
        recorded[d.language] = {
            "model": "on" if now_on else "off",
            "was": "on" if was_on else "off",
            "reason": d.reason
            + ("" if d.on or not was_on else "; turned off")
            + (" (never turned on without a calibrated threshold)" if d.on and not was_on else ""),
            "j_hybrid": d.hybrid_j,
            "j_rules_flow": d.base_j,
            "vulnerable": d.vulnerable,
            "clean": d.clean,
        }
    out["thresholds"] = thresholds
    out["held_out_decision"] = {"source": source, "margin": MARGIN, "languages": recorded}
    return out
