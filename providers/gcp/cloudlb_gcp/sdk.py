"""Loading only the google-cloud-compute clients the provider uses.

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

Importing the message types (one generated module of ~160,000 lines) also leaves ~18 MB
of heap that Python freed but glibc keeps; it is handed back to the system after each
client module is loaded (``malloc_trim``; a no-op where the C library has no such call).
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

PACKAGE = "google.cloud.compute_v1"
_lock = threading.Lock()


def client_class(service: str) -> type[Any]:
    """The client class of one service module, e.g. ``forwarding_rules`` → ``ForwardingRulesClient``."""
    name = f"{PACKAGE}.services.{service}"
    with _lock:
        if PACKAGE not in sys.modules:
            _install_deferred_package()
        loaded = name in sys.modules
        module = importlib.import_module(name)
        if not loaded:
            release_freed_heap()
    cls: type[Any] = getattr(module, "".join(part.title() for part in service.split("_")) + "Client")
    return cls


def release_freed_heap() -> None:
    """Give the heap that freed objects left back to the system (glibc's ``malloc_trim``)."""
    # The process's own symbols, the C library's among them (no search for the library's file).
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _install_deferred_package() -> None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None:
        raise ImportError(f"{PACKAGE} is not installed (the google-cloud-compute distribution)")
    package = importlib.util.module_from_spec(spec)
    finish_lock = threading.Lock()

    def finish(name: str) -> Any:
        # Runs only for names the module does not have yet. A submodule's name is not one of them: the import
        # system asks for it (``from google.cloud.compute_v1 import gapic_version``) before importing it.
        if importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
            raise AttributeError(name)
        with finish_lock:
            if package.__dict__.pop("__getattr__", None) is not None:
                spec.loader.exec_module(package)  # type: ignore[union-attr]
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

    package.__dict__["__getattr__"] = finish
    sys.modules[PACKAGE] = package
    parent: ModuleType = importlib.import_module(PACKAGE.rpartition(".")[0])
    setattr(parent, PACKAGE.rpartition(".")[2], package)
