"""The embedded model is assembled offline into the cache, verified once, and
re-verified when the file changes."""

from __future__ import annotations

import pytest

from vulnsight.errors import ModelError
from vulnsight.llm.models import embedded_model_path

pytestmark = pytest.mark.model


def test_assembled_once_then_trusted_until_the_file_changes(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("VULNSIGHT_CACHE_DIR", str(tmp_path))
    path = embedded_model_path()
    assert path == tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf"
    stamp = path.with_name(path.name + ".verified")
    assert stamp.is_file()
    assert embedded_model_path() == path  # trusted by its stamp

    with path.open("ab") as fh:  # tamper: size and mtime change
        fh.write(b"\0")
    with pytest.raises(ModelError, match="could not assemble"):
        embedded_model_path()
