import pytest

from vulnsight.errors import ConfigError
from vulnsight.registry import Registry


def test_lazy_entries_resolve_and_duplicates_are_rejected():
    reg: Registry[object] = Registry("thing")
    reg.register("dumps", "json:dumps")
    import json

    assert reg.get("dumps") is json.dumps
    with pytest.raises(ValueError):
        reg.register("dumps", json.loads)
    with pytest.raises(ConfigError, match="unknown thing 'nope'"):
        reg.get("nope")
    assert "dumps" in reg and reg.names() == ["dumps"]
