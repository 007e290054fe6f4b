"""Finding provider plugins through the ``cloudlb.providers`` entry-point group.

The in-tree providers are found the same way as a third-party one: the core
never imports a provider module by name.
"""

from __future__ import annotations

import difflib
from importlib.metadata import EntryPoint, entry_points

from cloudlb.provider import ProviderPlugin

ENTRY_POINT_GROUP = "cloudlb.providers"
PROVIDERS_DOCS = "https://github.com/cloudlb/cloudlb/blob/main/docs/providers.md"


class UnknownProviderError(LookupError):
    """No installed plugin has this name. The message lists the installed ones and points at the documented
    plugins; it never suggests a package name made from the unknown word (an invitation to typosquatting)."""

    def __init__(self, name: str, installed: list[str]) -> None:
        shown = ", ".join(installed) if installed else "none"
        close = difflib.get_close_matches(name, installed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        super().__init__(
            f"no cloudlb provider named {name!r} is installed (installed: {shown}); {hint}"
            f"the provider plugins and how to install them are listed at {PROVIDERS_DOCS}"
        )
        self.name = name
        self.installed = installed


class BrokenPluginError(RuntimeError):
    pass


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def installed_provider_names() -> list[str]:
    return sorted(_entry_points())


def _load(ep: EntryPoint) -> ProviderPlugin:
    try:
        plugin = ep.load()
    except Exception as exc:  # a broken plugin must not hide the others
        raise BrokenPluginError(f"provider plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
    if not isinstance(plugin, ProviderPlugin):
        raise BrokenPluginError(
            f"entry point {ep.name!r} ({ep.value}) is a {type(plugin).__name__}, not a cloudlb ProviderPlugin"
        )
    if plugin.name != ep.name:
        raise BrokenPluginError(f"entry point {ep.name!r} names a plugin called {plugin.name!r}")
    return plugin


def load_plugin(name: str) -> ProviderPlugin:
    found = _entry_points()
    if name not in found:
        raise UnknownProviderError(name, sorted(found))
    return _load(found[name])


def load_all_plugins() -> tuple[list[ProviderPlugin], list[BrokenPluginError]]:
    """Every installed plugin that loads, and the errors of those that do not."""
    plugins: list[ProviderPlugin] = []
    broken: list[BrokenPluginError] = []
    for ep in sorted(_entry_points().values(), key=lambda e: e.name):
        try:
            plugins.append(_load(ep))
        except BrokenPluginError as exc:
            broken.append(exc)
    return plugins, broken
