"""One typed registry for everything that is chosen by name: backends, detectors, formats.

Entries may be objects or lazy ``"module:attr"`` strings so heavy libraries
(llama_cpp, torch) are imported only when the entry is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Generic, TypeVar

from vulnsight.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> entry map that rejects duplicates and resolves lazy entries."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, entry: T | str) -> None:
        """Add an entry; a second entry with the same name is an error."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        """Return the entry, importing it first when it was registered lazily."""
        try:
            entry = self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r} (known: {known})") from None
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            resolved: T = getattr(importlib.import_module(module), attr)
            self._entries[name] = resolved
            return resolved
        return entry

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
