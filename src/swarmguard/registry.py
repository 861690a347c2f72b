"""Small registries that name plug-ins by string (``"svm"``, ``"rules"``, ``"nftables"``).

Built-ins are registered as lazy ``"module:Class"`` paths so heavy extras (torch, Flower) are
imported only when chosen; third-party plug-ins come through an entry-point group. A failed
lookup tells an unknown name apart from a missing optional dependency.

Examples
--------
>>> reg: Registry[object] = Registry("widgets", "swarmguard.widgets")
>>> reg.add("ordered", "collections:OrderedDict")
>>> reg.get("ordered").__name__
'OrderedDict'
>>> reg.get("nope")
Traceback (most recent call last):
...
swarmguard.registry.UnknownPluginError: unknown widgets 'nope'; known: ordered
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Generic, TypeVar, cast

from swarmguard.errors import MissingExtraError, SwarmguardError

__all__ = ["Registry", "UnknownPluginError"]

T = TypeVar("T")


class UnknownPluginError(SwarmguardError, KeyError):
    """No plug-in of that name is registered."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Generic[T]):
    """Names to lazily imported classes, plus an entry-point group for third parties."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._paths: dict[str, tuple[str, str | None]] = {}

    def add(self, name: str, path: str, *, extra: str | None = None) -> None:
        """Register ``name`` as the class at ``"module:Class"``; ``extra`` names its pip extra."""
        self._paths[name] = (path, extra)

    def names(self) -> list[str]:
        """All registered names, built-in and from entry points, sorted."""
        found = set(self._paths)
        found.update(ep.name for ep in entry_points(group=self.group))
        return sorted(found)

    def get(self, name: str) -> type[T]:
        """Import and return the class registered as ``name``."""
        if name in self._paths:
            path, extra = self._paths[name]
            module_name, _, attr = path.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                hint = f"pip install 'swarmguard[{extra}]'" if extra else "check the installation"
                raise MissingExtraError(
                    f"{self.kind} '{name}' needs a missing dependency ({exc.name}): {hint}"
                ) from exc
            return cast("type[T]", getattr(module, attr))
        for ep in entry_points(group=self.group):
            if ep.name == name:
                return cast("type[T]", ep.load())
        known = ", ".join(self.names()) or "none"
        raise UnknownPluginError(f"unknown {self.kind} '{name}'; known: {known}")
