"""The ``cloudlb sandbox`` command."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import click

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.plugins import UnknownProviderError, load_plugin
from cloudlb.sandbox.demo import DEMO_LABEL, DEMO_NAMESPACE, demo_services
from cloudlb.sandbox.table import is_converged, render
from cloudlb.sandbox_cloud import SandboxCloud
from cloudlb.testing import node_manifest, run_controller

CLUSTER_NAME = "sandbox"


class Stopped(Exception):
    """SIGTERM or SIGINT: leave every ``with`` block so that each server is stopped."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise Stopped(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _demo_services(kube: EmulatedKubernetes) -> list[dict[str, Any]]:
    return [s for s in kube.list("v1", "services", DEMO_NAMESPACE)
            if (s.get("metadata", {}).get("labels") or {}).get(DEMO_LABEL)]


def _load_balancer_services(kube: EmulatedKubernetes) -> list[dict[str, Any]]:
    return [s for s in kube.list("v1", "services") if (s.get("spec") or {}).get("type") == "LoadBalancer"]


def _start_cloud(provider: str, nodes: int) -> SandboxCloud:
    try:
        plugin = load_plugin(provider)
    except UnknownProviderError as exc:
        raise click.UsageError(str(exc)) from exc
    if plugin.sandbox is None:
        raise click.UsageError(f"provider {provider!r} offers no emulated cloud for the sandbox")
    cloud = plugin.sandbox(nodes=nodes, cluster_name=CLUSTER_NAME)
    if not isinstance(cloud, SandboxCloud):
        raise click.UsageError(f"provider {provider!r} returned {type(cloud).__name__}, not a SandboxCloud")
    return cloud


@click.command("sandbox")
@click.option("--provider", default="aws", show_default=True, help="Provider plugin whose emulated cloud to use.")
@click.option("--nodes", type=click.IntRange(1, 50), default=3, show_default=True, help="Nodes (cloud VMs).")
@click.option("--demo", is_flag=True, help="Apply sample Services and show a live table.")
@click.option("--once", is_flag=True, help="With --demo: exit once every demo Service converged, then clean up.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port of the emulated API (0: any free).")
@click.option("--timeout", type=click.FloatRange(1), default=120.0, show_default=True,
              help="With --once: seconds to wait for convergence.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the kubeconfig (default: a temporary folder).")
@click.option("--event-ttl", type=click.FloatRange(1), default=3600.0, show_default=True,
              help="Seconds an Event is kept after its last write (kube-apiserver's --event-ttl).")
@click.option("--verbose", "-v", is_flag=True, help="Show the controller's and the emulators' logs.")
def sandbox(provider: str, nodes: int, demo: bool, once: bool, port: int, timeout: float,
            kubeconfig: Path | None, event_ttl: float, verbose: bool) -> None:
    """Run an emulated cluster and an emulated cloud with the real controller between them.

    Use kubectl with the printed KUBECONFIG to create Services of type
    LoadBalancer and watch them get addresses. Ctrl-C stops everything.
    """
    if once and not demo:
        raise click.UsageError("--once goes with --demo")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        # Emulators log every request; the table is what a newcomer wants to see.
        for noisy in ("werkzeug", "aiohttp.access", "kopf"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="cloudlb-sandbox-") as scratch, _stop_on_signals() as stop:
        try:
            code = _run(provider, nodes, demo, once, port, timeout, kubeconfig or Path(scratch) / "kubeconfig",
                        event_ttl, stop)
        except Stopped as signalled:
            click.echo(f"\n{signalled}: stopped the controller, the emulated cloud and the API server.", err=True)
            code = 0
    sys.exit(code)


def _run(provider: str, nodes: int, demo: bool, once: bool, port: int, timeout: float, kubeconfig: Path,
         event_ttl: float, stop: threading.Event) -> int:
    started = time.monotonic()
    with EmulatedKubernetes(port=port, event_ttl=event_ttl) as kube, _start_cloud(provider, nodes) as cloud:
        kube.write_kubeconfig(kubeconfig)
        for instance in cloud.instances:
            kube.create(node_manifest(instance.name, provider_id=instance.provider_id,
                                      internal_ip=instance.internal_ip, zone=instance.zone))
        click.echo(f"emulated Kubernetes API: {kube.url} ({len(cloud.instances)} nodes)")
        click.echo(f"emulated {provider} cloud: {cloud.endpoint}")
        for name, value in sorted(cloud.options.items()):
            click.echo(f"  --{name}={value}")
        click.echo(f"export KUBECONFIG={kubeconfig}")
        with run_controller(kube, provider=provider, cluster_name=CLUSTER_NAME, options=cloud.options,
                            environment=cloud.environment, backoff_base=0.5, backoff_cap=10.0) as ctl:
            click.echo(f"controller running: provider={provider}, class={ctl.config.effective_class}")
            if not demo:
                click.echo("create Services of type LoadBalancer with kubectl; Ctrl-C to stop")
                while not stop.wait(1.0):
                    pass
                return 0
            for manifest in demo_services():
                kube.create(manifest)
            code = _watch(kube, once, timeout, stop)
            if once and code == 0:
                code = _delete_and_check(kube, cloud, timeout)
                click.echo(f"sandbox demo finished in {time.monotonic() - started:.1f}s")
            return code


def _watch(kube: EmulatedKubernetes, once: bool, timeout: float, stop: threading.Event) -> int:
    deadline = time.monotonic() + timeout
    shown = ""
    while not stop.is_set():
        services = _demo_services(kube) if once else _load_balancer_services(kube)
        table = render(services)
        if table != shown:
            click.echo(f"\n{time.strftime('%H:%M:%S')}\n{table}")
            shown = table
        if once and services and all(is_converged(s) for s in services):
            click.echo(f"\nall {len(services)} demo Services converged")
            return 0
        if once and time.monotonic() > deadline:
            waiting = [s["metadata"]["name"] for s in services if not is_converged(s)]
            click.echo(f"\nERROR: not converged after {timeout:.0f}s: {', '.join(waiting)}", err=True)
            return 1
        stop.wait(0.5)
    return 0


def _delete_and_check(kube: EmulatedKubernetes, cloud: SandboxCloud, timeout: float) -> int:
    """The other half of the job: deleting the Services removes every cloud resource."""
    for service in _demo_services(kube):
        kube.delete("v1", "services", DEMO_NAMESPACE, service["metadata"]["name"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _demo_services(kube) and not cloud.leftovers():
            click.echo("deleted the demo Services: nothing left in the emulated cloud")
            return 0
        time.sleep(0.5)
    click.echo(f"ERROR: left behind after delete: {', '.join(cloud.leftovers()) or 'Services still present'}",
               err=True)
    return 1
