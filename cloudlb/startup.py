"""Start-up checks: a misconfigured controller stops within seconds, with one line naming the setting and the fix.

``StartupError`` carries that line; ``cloudlb run`` prints it (no traceback)
and exits non-zero. The checks here are the ones that need no Kubernetes API:
the listening ports and the provider's own check; the API server and the lease
are checked in ``cloudlb.connection`` and ``cloudlb.leadership``.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from typing import Any

from cloudlb.provider import Provider, StartupCheckFailed

logger = logging.getLogger(__name__)


class StartupError(Exception):
    """The controller cannot start; the message is one plain line: what is wrong, which setting, the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def one_line(text: str) -> str:
    """Collapse whitespace and newlines: errors from libraries sometimes span lines."""
    return " ".join(text.split())


def bind_port(port: int, option: str, address: str = "0.0.0.0") -> socket.socket:
    """A listening socket on ``port``, or a StartupError naming ``option`` when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise port_error(exc, port, option) from exc
    sock.setblocking(False)
    return sock


def port_error(exc: OSError, port: int, option: str) -> StartupError:
    """The one line for a port the controller cannot listen on."""
    if exc.errno == errno.EADDRINUSE:
        return StartupError(f"port {port} ({option}) is already in use by another process: stop it, or choose "
                            f"another port with {option}")
    return StartupError(f"cannot listen on port {port} ({option}): {exc.strerror or exc}; choose another port "
                        f"with {option}")


def start_provider(name: str, create: Callable[[], Provider[Any]]) -> Provider[Any]:
    """Create the provider and run its start-up check (credentials, region, one cheap read); blocking."""
    try:
        provider = create()
    except Exception as exc:  # missing credentials, project or region: said plainly, no traceback
        raise StartupError(f"provider {name!r} could not start: {exc}") from exc
    try:
        provider.check()
    except StartupCheckFailed as exc:
        raise StartupError(f"provider {name!r}: {exc}") from exc
    except Exception as exc:  # a plugin whose check fails some other way is misconfigured just as well
        raise StartupError(f"provider {name!r} failed its start-up check: {type(exc).__name__}: {exc}") from exc
    logger.debug("provider %s passed its start-up check", name)
    return provider
