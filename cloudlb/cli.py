"""The ``cloudlb`` command: ``run`` the controller, list ``providers``, start a ``sandbox``.

Provider options are declared by the plugins themselves (``ProviderPlugin.options``)
and become ``--<name>`` options of ``cloudlb run``, so that a third-party
plugin's settings appear here once its package is installed.

A configuration the controller cannot run with ends ``cloudlb run`` within
seconds, with exit code 1 and one log line naming the setting and the fix
(``cloudlb.startup.StartupError``); a wrong command line is a usage error (exit code 2).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import sys
from typing import Any

import click
from click.core import ParameterSource

from cloudlb import __version__, logs, plan_command
from cloudlb.cloudapi import CloudApi, Rate, parse_rates
from cloudlb.config import ControllerConfig, LeaderElection, LeaseTimings
from cloudlb.metrics import Metrics
from cloudlb.operator import LeadershipLost, run_async
from cloudlb.planning import as_json, as_table, exit_code
from cloudlb.plugins import PROVIDERS_DOCS, UnknownProviderError, load_all_plugins, load_plugin
from cloudlb.provider import ProviderOption, ProviderPlugin, ProviderSettings
from cloudlb.sharing import parse_policy
from cloudlb.startup import StartupError

logger = logging.getLogger("cloudlb")


def _env(name: str) -> str:
    return "CLOUDLB_" + name.upper().replace("-", "_")


def _plugin_options() -> list[ProviderOption]:
    plugins, _ = load_all_plugins()
    return [option for plugin in plugins for option in plugin.options]


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)"


def parse_duration(text: str) -> float:
    """Seconds, from a Go duration as kube-controller-manager's flags take it (``15s``, ``1m30s``, ``500ms``)
    or a plain number of seconds. ASCII digits only: ``\\d`` would also take other scripts' digits."""
    text = text.strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
        return float(text)
    if not re.fullmatch(f"(?:{_DURATION_PART})+", text):
        raise ValueError(f"{text!r} is not a duration such as 15s, 1m30s or 500ms")
    return sum(float(amount) * _DURATION_UNITS[unit] for amount, unit in re.findall(_DURATION_PART, text))


def _duration(context: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), context, param) from exc


def _sharing(context: click.Context, param: click.Parameter, value: str) -> str:
    try:
        parse_policy(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


def _rates(context: click.Context, param: click.Parameter, value: str) -> dict[str, Rate]:
    """``--cloud-api-rates``: FAMILY=REQUESTS_PER_SECOND[/BURST], comma-separated (``cloudapi.parse_rates``)."""
    try:
        return parse_rates(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), context, param) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="cloudlb")
def main() -> None:
    """cloudlb: cloud load balancers for Kubernetes Services of type LoadBalancer."""


def _controller_params() -> list[click.Parameter]:
    """The options of ``run``, which ``plan`` takes too, so that it plans with exactly the same settings."""
    params: list[click.Parameter] = [
        click.Option(["--provider"], required=True, envvar=_env("provider"), help="Provider plugin name."),
        click.Option(["--cluster-name"], required=True, envvar=_env("cluster-name"),
                     help="Cluster name; marks every cloud resource this controller owns."),
        click.Option(["--load-balancer-class"], default="", envvar=_env("load-balancer-class"),
                     help="spec.loadBalancerClass handled (default: cloudlb.io/<provider>)."),
        click.Option(["--serve-unclassed"], is_flag=True, envvar=_env("serve-unclassed"),
                     help="Also serve Services without a loadBalancerClass. Only where no cloud-controller-manager "
                          "serves them (not on EKS or GKE)."),
        click.Option(["--workers"], type=click.IntRange(1, 256), default=4, show_default=True,
                     envvar=_env("workers"), help="Services reconciled at once (provider calls in flight)."),
        click.Option(["--metrics-port"], type=click.IntRange(0, 65535), default=9090, show_default=True,
                     envvar=_env("metrics-port"), help="Prometheus /metrics port; 0 disables."),
        click.Option(["--health-port"], type=click.IntRange(0, 65535), default=8080, show_default=True,
                     envvar=_env("health-port"), help="Port of /healthz (liveness) and /readyz (readiness); "
                                                      "0 disables."),
        click.Option(["--leader-elect"], type=click.BOOL, default=True, is_flag=False, flag_value=True,
                     show_default=True, envvar=_env("leader-elect"),
                     help="Only the holder of a coordination.k8s.io Lease acts; the other replicas stand by. "
                          "--leader-elect=false for a single replica."),
        click.Option(["--leader-elect-resource-name"], default="cloudlb", show_default=True,
                     envvar=_env("leader-elect-resource-name"), help="Name of the Lease."),
        click.Option(["--leader-elect-resource-namespace"], default="", envvar=_env("leader-elect-resource-namespace"),
                     help="Namespace of the Lease (default: the controller's own)."),
        click.Option(["--leader-elect-lease-duration"], callback=_duration, default="10s", show_default=True,
                     envvar=_env("leader-elect-lease-duration"),
                     help="How long a standby waits after the leader's last renewal before taking over."),
        click.Option(["--leader-elect-renew-deadline"], callback=_duration, default="8s", show_default=True,
                     envvar=_env("leader-elect-renew-deadline"),
                     help="How long the leader tries to renew before it stops leading."),
        click.Option(["--leader-elect-retry-period"], callback=_duration, default="2s", show_default=True,
                     envvar=_env("leader-elect-retry-period"), help="How often replicas try to take or renew "
                                                                    "the Lease."),
        click.Option(["--resync-interval"], type=click.FloatRange(1), default=600.0, show_default=True,
                     envvar=_env("resync-interval"),
                     help="Seconds between fast sweeps of the cloud (batched list calls); only load balancers "
                          "that drifted are re-planned."),
        click.Option(["--deep-resync-interval"], type=click.FloatRange(1), default=6 * 3600.0, show_default=True,
                     envvar=_env("deep-resync-interval"),
                     help="Seconds between deep sweeps, which also read per-resource state (target health, "
                          "instance-group members)."),
        click.Option(["--gc-interval"], type=click.FloatRange(1), default=600.0, show_default=True,
                     envvar=_env("gc-interval"), help="Seconds between orphan garbage collections."),
        click.Option(["--cloud-state-retry"], type=click.FloatRange(1), default=120.0, show_default=True,
                     envvar=_env("cloud-state-retry"),
                     help="Seconds before retrying a change the cloud's state refused (a quota, a resource in "
                          "use); it heals without an edit."),
        click.Option(["--share-namespaces"], callback=_sharing, default="", envvar=_env("share-namespaces"),
                     help="Groups of namespaces whose Services may share load balancers across namespaces "
                          "(cloudlb.io/share-key), e.g. team-a,team-b;web,api. Without it, only Services of "
                          "one namespace share."),
        click.Option(["--cloud-api-rates"], callback=_rates, default="", envvar=_env("cloud-api-rates"),
                     help="Client-side rate limits per cloud API family, e.g. elbv2-read=10/20,elbv2-write=5 "
                          "(requests per second / burst)."),
        click.Option(["--log-level"], type=click.Choice([level.value for level in logs.LogLevel]),
                     default=logs.LogLevel.INFO.value, show_default=True, envvar=_env("log-level"),
                     help="debug also shows the libraries' logs (credentials are always redacted)."),
        click.Option(["--log-format"], type=click.Choice([f.value for f in logs.LogFormat]),
                     default=logs.LogFormat.TEXT.value, show_default=True, envvar=_env("log-format"),
                     help="text lines, or one JSON object per line."),
    ]
    seen: set[str] = set()
    for option in _plugin_options():
        if option.name in seen:
            continue
        seen.add(option.name)
        params.append(click.Option([f"--{option.name}"], default=option.default, envvar=option.envvar,
                                   help=option.help, show_default=option.default is not None))
    return params


def _run_command() -> click.Command:
    return click.Command("run", callback=_run, params=_controller_params(),
                         help="Run the controller against the cluster of KUBECONFIG or the in-cluster service "
                              "account.")


def _plan_command() -> click.Command:
    params = [*_controller_params(),
              click.Option(["--output", "-o"], type=click.Choice(["table", "json"]), default="table",
                           show_default=True, help="A table for people, or JSON for tools.")]
    return click.Command("plan", callback=_plan, params=params, help=(
        "Show what `cloudlb run` would create, change or delete in the cloud (orphans included), without "
        "changing anything. Takes the same options and environment as `run`. Exit code 0: nothing to do; "
        "2: changes pending; 1: it could not plan."))


def _config(params: dict[str, Any], plugin: ProviderPlugin) -> ControllerConfig:
    """The controller's settings from the command line, shared by ``run`` and ``plan``."""
    context = click.get_current_context()
    provider_options = {key: params.get(key) for key in (option.key for option in plugin.options)}
    missing = [o.name for o in plugin.options if o.required and not provider_options.get(o.key)]
    if missing:
        raise click.UsageError(f"provider {plugin.name!r} needs " + ", ".join(f"--{m}" for m in missing))
    try:
        timings = LeaseTimings(params["leader_elect_lease_duration"], params["leader_elect_renew_deadline"],
                               params["leader_elect_retry_period"])
    except ValueError as exc:
        raise click.UsageError(f"--leader-elect-*: {exc}") from exc
    named = any(context.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
                for name in ("leader_elect_resource_name", "leader_elect_resource_namespace"))
    return ControllerConfig(
        provider=plugin.name, cluster_name=params["cluster_name"], load_balancer_class=params["load_balancer_class"],
        serve_unclassed=params["serve_unclassed"], workers=params["workers"], metrics_port=params["metrics_port"],
        health_port=params["health_port"],
        leader_election=LeaderElection(enabled=params["leader_elect"], lease_name=params["leader_elect_resource_name"],
                                       lease_namespace=params["leader_elect_resource_namespace"], timings=timings,
                                       explicit=named),
        resync_interval=params["resync_interval"], deep_resync_interval=params["deep_resync_interval"],
        gc_interval=params["gc_interval"], cloud_state_retry=params["cloud_state_retry"],
        share_namespaces=params["share_namespaces"], provider_options=provider_options,
    )


def _run(**params: Any) -> None:
    plugin = _plugin(params["provider"])
    config = _config(params, plugin)
    provider_options = config.provider_options
    logs.configure(logs.LogLevel(params["log_level"]), logs.LogFormat(params["log_format"]))
    _log_start(config, params)
    metrics = Metrics()
    cloud_api = CloudApi(plugin.name, params["cloud_api_rates"], observer=metrics.observe_cloud_call)
    settings = ProviderSettings(cluster_name=config.cluster_name, options=provider_options, cloud_api=cloud_api)
    try:
        # kopf handles SIGINT/SIGTERM itself in the main thread.
        asyncio.run(run_async(config, lambda: plugin.create(settings), metrics=metrics))
    except StartupError as exc:
        logger.error("%s", exc)
        sys.exit(1)
    except LeadershipLost:
        sys.exit(1)  # already logged by the elector; the kubelet restarts the container


def _plan(**params: Any) -> None:
    plugin = _plugin(params["provider"])
    config = _config(params, plugin)
    logs.configure(logs.LogLevel(params["log_level"]), logs.LogFormat(params["log_format"]))
    settings = ProviderSettings(cluster_name=config.cluster_name, options=config.provider_options,
                                cloud_api=CloudApi(plugin.name, params["cloud_api_rates"]))
    try:
        planned = plan_command.plan(config, lambda: plugin.create(settings))
    except StartupError as exc:
        logger.error("%s", exc)
        sys.exit(1)
    click.echo(as_json(planned) if params["output"] == "json" else as_table(planned))
    sys.exit(exit_code(planned))


def _plugin(name: str) -> ProviderPlugin:
    try:
        return load_plugin(name)
    except UnknownProviderError as exc:
        raise click.UsageError(str(exc)) from exc


def _log_start(config: ControllerConfig, params: dict[str, Any]) -> None:
    """The first line: the version and every setting (credentials are not settings; they never appear)."""
    election = config.leader_election
    settings: dict[str, Any] = {
        "provider": config.provider, "cluster-name": config.cluster_name, "class": config.effective_class,
        "serve-unclassed": config.serve_unclassed, "workers": config.workers,
        "metrics-port": config.metrics_port, "health-port": config.health_port,
        "leader-elect": election.enabled,
    }
    if election.enabled:
        settings.update({
            "lease": f"{election.lease_namespace or '(own namespace)'}/{election.lease_name}",
            "lease-duration": f"{election.timings.lease_duration:g}s",
            "renew-deadline": f"{election.timings.renew_deadline:g}s",
            "retry-period": f"{election.timings.retry_period:g}s"})
    settings.update({"resync-interval": f"{config.resync_interval:g}s", "gc-interval": f"{config.gc_interval:g}s",
                     "cloud-api-rates": ",".join(f"{family}={rate.per_second:g}/{rate.burst}"
                                                 for family, rate in sorted(params["cloud_api_rates"].items())),
                     "log-level": params["log_level"], "log-format": params["log_format"]})
    settings.update({key.replace("_", "-"): value for key, value in config.provider_options.items()
                     if value is not None})
    text = " ".join(f"{key}={value}" for key, value in settings.items())
    logger.info("cloudlb %s starting: %s", __version__, text, extra=logs.fields(version=__version__,
                                                                                 settings=settings))


main.add_command(_run_command())
main.add_command(_plan_command())


@main.command("providers")
def providers_command() -> None:
    """List the installed provider plugins and what each can serve."""
    plugins, broken = load_all_plugins()
    if not plugins and not broken:
        click.echo(f"no provider plugins installed; they are listed at {PROVIDERS_DOCS}")
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
