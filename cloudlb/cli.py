"""The ``cloudlb`` command: ``run`` the controller, list ``providers``, start a ``sandbox``.

Provider options are declared by the plugins themselves (``ProviderPlugin.options``)
and become ``--<name>`` options of ``cloudlb run``, so that a third-party
plugin's settings appear here once its package is installed.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys

import click

from cloudlb.config import ControllerConfig
from cloudlb.operator import SERVICE_ACCOUNT_TOKEN, run_async
from cloudlb.plugins import UnknownProviderError, load_all_plugins, load_plugin
from cloudlb.provider import ProviderOption, ProviderSettings


def _env(name: str) -> str:
    return "CLOUDLB_" + name.upper().replace("-", "_")


def _plugin_options() -> list[ProviderOption]:
    plugins, _ = load_all_plugins()
    return [option for plugin in plugins for option in plugin.options]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="cloudlb")
def main() -> None:
    """cloudlb: cloud load balancers for Kubernetes Services of type LoadBalancer."""


def _run_command() -> click.Command:
    params: list[click.Parameter] = [
        click.Option(["--provider"], required=True, envvar=_env("provider"), help="Provider plugin name."),
        click.Option(["--cluster-name"], required=True, envvar=_env("cluster-name"),
                     help="Cluster name; marks every cloud resource this controller owns."),
        click.Option(["--load-balancer-class"], default="", envvar=_env("load-balancer-class"),
                     help="spec.loadBalancerClass handled (default: cloudlb.io/<provider>)."),
        click.Option(["--ignore-unclassed"], is_flag=True, envvar=_env("ignore-unclassed"),
                     help="Leave Services without a loadBalancerClass to another controller."),
        click.Option(["--workers"], type=click.IntRange(1, 256), default=4, show_default=True,
                     envvar=_env("workers"), help="Services reconciled at once (provider calls in flight)."),
        click.Option(["--metrics-port"], type=click.IntRange(0, 65535), default=9090, show_default=True,
                     envvar=_env("metrics-port"), help="Prometheus /metrics port; 0 disables."),
        click.Option(["--health-port"], type=click.IntRange(0, 65535), default=8080, show_default=True,
                     envvar=_env("health-port"), help="Liveness endpoint port (/healthz); 0 disables."),
        click.Option(["--peering"], default="cloudlb", show_default=True, envvar=_env("peering"),
                     help="ClusterKopfPeering name used so that only one replica is active."),
        click.Option(["--standalone"], is_flag=True, envvar=_env("standalone"),
                     help="Run without peering (a single replica)."),
        click.Option(["--resync-interval"], type=click.FloatRange(1), default=600.0, show_default=True,
                     envvar=_env("resync-interval"), help="Seconds between full resyncs (drift repair)."),
        click.Option(["--gc-interval"], type=click.FloatRange(1), default=600.0, show_default=True,
                     envvar=_env("gc-interval"), help="Seconds between orphan garbage collections."),
        click.Option(["--verbose", "-v"], is_flag=True, envvar=_env("verbose"), help="Debug logging."),
    ]
    seen: set[str] = set()
    for option in _plugin_options():
        if option.name in seen:
            continue
        seen.add(option.name)
        params.append(click.Option([f"--{option.name}"], default=option.default, envvar=option.envvar,
                                   help=option.help, show_default=option.default is not None))
    return click.Command("run", callback=_run, params=params,
                         help="Run the controller against the cluster of the in-cluster service account "
                              "or KUBECONFIG.")


def _run(provider: str, cluster_name: str, load_balancer_class: str, ignore_unclassed: bool, workers: int,
         metrics_port: int, health_port: int, peering: str, standalone: bool, resync_interval: float,
         gc_interval: float, verbose: bool, **provider_options: str | None) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        plugin = load_plugin(provider)
    except UnknownProviderError as exc:
        raise click.UsageError(str(exc)) from exc
    own = {option.key for option in plugin.options}
    missing = [o.name for o in plugin.options if o.required and not provider_options.get(o.key)]
    if missing:
        raise click.UsageError(f"provider {provider!r} needs " + ", ".join(f"--{m}" for m in missing))
    options = {key: value for key, value in provider_options.items() if key in own}
    if not (os.path.exists(SERVICE_ACCOUNT_TOKEN) or os.environ.get("KUBECONFIG")
            or os.path.exists(os.path.expanduser("~/.kube/config"))):
        raise click.UsageError("no Kubernetes credentials: run in a cluster (service account) or set KUBECONFIG")
    config = ControllerConfig(
        provider=provider, cluster_name=cluster_name, load_balancer_class=load_balancer_class,
        ignore_unclassed=ignore_unclassed, workers=workers, metrics_port=metrics_port, health_port=health_port,
        peering=peering, standalone=standalone, resync_interval=resync_interval, gc_interval=gc_interval,
        provider_options=options,
    )
    try:
        instance = plugin.create(ProviderSettings(cluster_name=cluster_name, options=options))
    except Exception as exc:  # missing credentials, project or region: say so plainly, no traceback
        raise click.ClickException(f"provider {provider!r} could not start: {exc}") from exc
    # kopf handles SIGINT/SIGTERM itself in the main thread. No stop flag is passed: kopf
    # would wait on it in an executor thread that keeps the process alive after it stops.
    asyncio.run(run_async(config, instance))


main.add_command(_run_command())


@main.command("providers")
def providers_command() -> None:
    """List the installed provider plugins and what each can serve."""
    plugins, broken = load_all_plugins()
    if not plugins and not broken:
        click.echo("no provider plugins installed (pip install cloudlb-aws, cloudlb-gcp, ...)")
    for plugin in plugins:
        click.echo(f"{plugin.name}: {plugin.description}")
        for offering in plugin.capabilities.offerings:
            protocols = ", ".join(sorted(offering.protocols))
            extras = [f"max {offering.max_ports} ports", f"status: {offering.ingress}"]
            if offering.same_port_tcp_udp:
                extras.append("TCP+UDP on one port")
            click.echo(f"  {offering.name:<10} {offering.description}: {protocols} ({'; '.join(extras)})")
        for option in plugin.options:
            click.echo(f"  --{option.name} / {option.envvar}: {option.help}")
    for error in broken:
        click.echo(f"broken: {error}", err=True)
    if broken:
        sys.exit(1)


def _add_sandbox() -> None:
    try:
        module = importlib.import_module("cloudlb.sandbox.command")
    except ImportError:  # the sandbox extra (kmock) is not installed
        return
    command: click.Command = module.sandbox
    main.add_command(command)


_add_sandbox()
