"""Detector adapters for `vulnsight eval`, chosen by name through a lazy registry."""

from __future__ import annotations

from vulnsight.bench.adapters.interface import Adapter, AdapterFactory
from vulnsight.registry import Registry

#: name -> factory(options) -> Adapter; entries are lazy so peers load only when asked.
ADAPTERS: Registry[AdapterFactory] = Registry("eval detector")
for _name, _entry in {
    "rules": "vulnsight.bench.adapters.vulnsight_detectors:rules_adapter",
    "llm": "vulnsight.bench.adapters.vulnsight_detectors:llm_adapter",
    "llm+facts": "vulnsight.bench.adapters.vulnsight_detectors:llm_facts_adapter",
    "hybrid": "vulnsight.bench.adapters.vulnsight_detectors:hybrid_adapter",
    "rules+llm": "vulnsight.bench.adapters.vulnsight_detectors:rules_llm_adapter",
    "flow": "vulnsight.bench.adapters.vulnsight_detectors:flow_adapter",
    "rules+flow": "vulnsight.bench.adapters.vulnsight_detectors:rules_flow_adapter",
    "semgrep": "vulnsight.bench.adapters.semgrep_peer:SemgrepAdapter",
    "bandit": "vulnsight.bench.adapters.bandit:BanditAdapter",
    "flawfinder": "vulnsight.bench.adapters.flawfinder:FlawfinderAdapter",
    "cppcheck": "vulnsight.bench.adapters.cppcheck:CppcheckAdapter",
    "njsscan": "vulnsight.bench.adapters.njsscan:NjsscanAdapter",
    "slither": "vulnsight.bench.adapters.slither:SlitherAdapter",
    "openai": "vulnsight.bench.adapters.openai_endpoint:endpoint_adapter",
    "flag-all": "vulnsight.bench.adapters.baselines:FlagAll",
    "flag-none": "vulnsight.bench.adapters.baselines:FlagNone",
    "random": "vulnsight.bench.adapters.baselines:RandomGuess",
}.items():
    ADAPTERS.register(_name, _entry)

__all__ = ["ADAPTERS", "Adapter", "AdapterFactory"]
