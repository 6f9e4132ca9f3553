import pytest

from vulnsight.config import parse_detectors
from vulnsight.errors import ConfigError


def test_parse_detectors_dedupes_and_expands_hybrid():
    assert parse_detectors("llm, rules,llm") == ("llm", "rules")
    assert parse_detectors("hybrid") == ("rules", "llm", "flow")
    assert parse_detectors("llm,hybrid") == ("llm", "rules", "flow")


def test_parse_detectors_rejects_unknown_names():
    with pytest.raises(ConfigError, match="unknown detector"):
        parse_detectors("rules,regex")
