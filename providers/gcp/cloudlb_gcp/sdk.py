"""Loading only the google-cloud-compute clients the provider uses, and only the message types they need.

``google.cloud.compute_v1``'s ``__init__`` imports every one of the library's
~120 service clients. It lists them all in ``__lazy_modules__`` (PEP 810), so
Python 3.15 defers each until it is used; older Pythons ignore that and load
them all, ~30 MB and several seconds more than the ten clients a passthrough
load balancer needs. This does what Python 3.15 would: the package module is
created but its ``__init__`` is not run, so ``compute_v1.services.<name>``
imports just that client (and the shared ``types`` module, which no client can
do without). The first access to a name the package itself defines
(``compute_v1.AddressesClient``) runs the real ``__init__`` in the same module,
so any other code in the process still sees the whole package.

The shared ``types`` module (``types/compute.py``, one generated module of ~160,000
lines) defines the ~2,100 message types of the whole Compute API; each costs ~30 KB
once proto-plus and protobuf have built its class and descriptor (~60 MB in all), and
the clients the provider uses need ~350 of them. ``load_message_types(services)``
loads the module with only the messages those services' clients name, and the
messages those contain, in turn (found in the module's text: each message is a
top-level class, and a field names the message it holds as ``message="Name"``). The
other classes' lines are blanked, so line numbers (and tracebacks) are the file's.
Message types are registered in the process's one protobuf descriptor pool under
their API names, so the trimmed module cannot be replaced by the whole one later in
the same process: asking for a message type or a client it lacks raises ImportError
saying so. A process that loaded the whole module first (the GCE emulator does) keeps
it, and nothing is trimmed.

Importing the message types also leaves heap that Python freed but glibc keeps; it is
handed back to the system after each client module is loaded (``malloc_trim``; a no-op
where the C library has no such call).
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import re
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from cloudlb.memory import release_freed_heap

PACKAGE = "google.cloud.compute_v1"
TYPES_PACKAGE = f"{PACKAGE}.types"
TYPES_MODULE = f"{TYPES_PACKAGE}.compute"
_lock = threading.Lock()
# The services whose message types were loaded, when the types module was trimmed (empty: it was not).
_trimmed_for: set[str] = set()
_CLASS = re.compile(r"class (\w+)\(")
_MANIFEST_ENTRY = re.compile(r' {8}"(\w+)",\n')
_FIELD_MESSAGE = re.compile(r'message="(\w+)')
_TYPE_NAME = re.compile(r"\bcompute\.(\w+)")


class TrimmedTypesError(ImportError):
    pass


def client_class(service: str) -> type[Any]:
    """The client class of one service module, e.g. ``forwarding_rules`` → ``ForwardingRulesClient``."""
    name = f"{PACKAGE}.services.{service}"
    with _lock:
        if PACKAGE not in sys.modules:
            _install_deferred_package()
        if _trimmed_for and service not in _trimmed_for:
            raise TrimmedTypesError(f"{PACKAGE}'s message types were loaded for {', '.join(sorted(_trimmed_for))} "
                                    f"only (cloudlb_gcp.sdk.load_message_types), not for {service}")
        loaded = name in sys.modules
        module = importlib.import_module(name)
        if not loaded:
            release_freed_heap()
    cls: type[Any] = getattr(module, "".join(part.title() for part in service.split("_")) + "Client")
    return cls


def load_message_types(services: Iterable[str]) -> bool:
    """Load the message types module with what the clients of ``services`` need (``forwarding_rules``...).

    False when the module was loaded already (whole, or trimmed for these services) or its text is not
    laid out as expected (then nothing is done, and the first client loads it whole).
    """
    wanted = frozenset(services)
    with _lock:
        if TYPES_MODULE in sys.modules:
            return False
        if PACKAGE not in sys.modules:
            _install_deferred_package()
        package_dir = Path(_spec(PACKAGE).origin or "").parent
        source = (package_dir / "types" / "compute.py").read_text()
        client_text = "".join(path.read_text() for service in sorted(wanted)
                              for path in sorted((package_dir / "services" / service).rglob("*.py")))
        trimmed = trim_types_source(source, _TYPE_NAME.findall(client_text))
        if trimmed is None:
            return False
        _install_deferred_types_package()
        spec = _spec(TYPES_MODULE)
        module = importlib.util.module_from_spec(spec)
        code = compile(trimmed, spec.origin or TYPES_MODULE, "exec", dont_inherit=True)
        sys.modules[TYPES_MODULE] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            del sys.modules[TYPES_MODULE]
            raise
        sys.modules[TYPES_PACKAGE].compute = module  # type: ignore[attr-defined]
        _trimmed_for.update(wanted)
        del source, client_text, trimmed, code
        release_freed_heap()
        return True


def trim_types_source(source: str, needed: Iterable[str]) -> str | None:
    """``types/compute.py`` with only the ``needed`` messages and those they hold, the other lines blank.

    None when the text is not a manifest followed by one top-level class per manifest entry.
    """
    lines = source.splitlines(keepends=True)
    starts = [index for index, line in enumerate(lines) if line.startswith(("class ", "__all__"))]
    if not starts or not lines[starts[-1]].startswith("__all__"):
        return None
    classes: dict[str, tuple[int, int]] = {}
    for start, end in itertools.pairwise(starts):
        found = _CLASS.match(lines[start])
        if found is None:
            return None
        classes[found.group(1)] = (start, end)
    preamble = range(starts[0])
    manifest = {found.group(1) for index in preamble if (found := _MANIFEST_ENTRY.fullmatch(lines[index]))}
    if manifest != set(classes):
        return None
    kept: set[str] = set()
    todo = [name for name in needed if name in classes]
    while todo:
        name = todo.pop()
        if name not in kept:
            kept.add(name)
            start, end = classes[name]
            todo.extend(held for held in _FIELD_MESSAGE.findall("".join(lines[start:end]))
                        if held in classes and held not in kept)
    if not kept:
        return None
    for index in preamble:
        if (found := _MANIFEST_ENTRY.fullmatch(lines[index])) and found.group(1) not in kept:
            lines[index] = "\n"
    for name, (start, end) in classes.items():
        if name not in kept:
            lines[start:end] = ["\n"] * (end - start)
    return "".join(lines)


def _spec(name: str) -> importlib.machinery.ModuleSpec:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"{name} is not installed (the google-cloud-compute distribution)")
    return spec


def _deferred(name: str, finish: Any) -> ModuleType:
    """The package ``name`` as a module whose ``__init__`` has not run; ``finish(name)`` answers its attributes."""
    package = importlib.util.module_from_spec(_spec(name))
    package.__dict__["__getattr__"] = finish
    sys.modules[name] = package
    parent: ModuleType = importlib.import_module(name.rpartition(".")[0])
    setattr(parent, name.rpartition(".")[2], package)
    return package


def _install_deferred_package() -> None:
    spec = _spec(PACKAGE)
    finish_lock = threading.Lock()

    def finish(name: str) -> Any:
        # Runs only for names the module does not have yet. A submodule's name is not one of them: the import
        # system asks for it (``from google.cloud.compute_v1 import gapic_version``) before importing it.
        if importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
            raise AttributeError(name)
        if _trimmed_for:
            if name.startswith("_"):  # a probe for an optional attribute (``__wrapped__``): not the API
                raise AttributeError(name)
            raise TrimmedTypesError(f"{PACKAGE}.{name}: the package's message types were loaded for "
                                    f"{', '.join(sorted(_trimmed_for))} only (cloudlb_gcp.sdk.load_message_types); "
                                    f"import {PACKAGE} before them to load it whole")
        with finish_lock:
            if package.__dict__.pop("__getattr__", None) is not None:
                spec.loader.exec_module(package)  # type: ignore[union-attr]
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

    package = _deferred(PACKAGE, finish)


def _install_deferred_types_package() -> None:
    """``types`` without its ``__init__`` (which imports every message by name): its names are the module's."""

    def finish(name: str) -> Any:
        if name.startswith("_") or importlib.util.find_spec(f"{TYPES_PACKAGE}.{name}") is not None:
            raise AttributeError(name)
        try:
            return getattr(sys.modules[TYPES_MODULE], name)
        except AttributeError:
            raise TrimmedTypesError(f"{TYPES_PACKAGE}.{name}: not among the message types loaded for "
                                    f"{', '.join(sorted(_trimmed_for))} (cloudlb_gcp.sdk.load_message_types)"
                                    ) from None

    _deferred(TYPES_PACKAGE, finish)
