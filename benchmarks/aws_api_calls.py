"""How many AWS API calls the AWS provider makes per scenario, against moto over HTTP.

Every call is counted by botocore's ``before-call`` event on the provider's own
clients (``AWSProvider.calls``), by IAM action. The upstream AWS cloud provider
makes about 18-20 calls to create a 2-port NLB and about 12 per Service on
every resync that changes nothing; those figures are printed beside ours.
The provider plans from its inventory (contract v2): a sweep fills it once,
then creates, node changes and re-plans read nothing; the sweep's cost is per
page of load balancers, whatever the number of Services.
Prints a Markdown table and saves it to benchmarks/results/aws_api_calls.md.

    uv run python benchmarks/aws_api_calls.py
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, Backend, LoadBalancerSpec, Port, Protocol, ServiceRef
from cloudlb.provider import ProviderSettings

RESULTS = Path(__file__).resolve().parent / "results"
CLUSTER = "bench"


@dataclass(frozen=True)
class Row:
    scenario: str
    calls: Counter[str]
    upstream: str = ""

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> int:
        return sum(n for action, n in self.calls.items() if not action.split(":")[1].startswith("Describe"))


def spec(sandbox: MotoSandbox, name: str, ports: list[tuple[int, Protocol, int]], nodes: int,
         annotations: dict[str, str] | None = None) -> LoadBalancerSpec:
    backends = tuple(sorted(Backend(i.name, i.provider_id, i.internal_ip, i.zone) for i in sandbox.instances[:nodes]))
    return LoadBalancerSpec(service=ServiceRef("default", name), uid=name,
                            ports=tuple(Port(p, proto, n) for p, proto, n in ports), backends=backends,
                            health_check=KUBE_PROXY_HEALTH_CHECK, annotations=annotations or {})


def measure(provider: AWSProvider, action: Callable[[], object]) -> Counter[str]:
    before = provider.calls.snapshot()
    action()
    return provider.calls.snapshot() - before


def run() -> list[Row]:
    two_ports = [(80, Protocol.TCP, 30080), (443, Protocol.TCP, 30443)]
    clb = {"service.beta.kubernetes.io/aws-load-balancer-type": "clb"}
    with MotoSandbox(nodes=4, cluster_name=CLUSTER) as sandbox:
        os.environ.update(sandbox.environment)
        provider = AWSProvider(ProviderSettings(CLUSTER, {}))

        def ensure(name: str, ports: list[tuple[int, Protocol, int]], nodes: int,
                   annotations: dict[str, str] | None = None) -> Callable[[], object]:
            return lambda: provider.ensure_service(spec(sandbox, name, ports, nodes, annotations))

        rows = [
            Row("start-up sweep (empty inventory, nothing in AWS yet)", measure(provider, provider.sweep)),
            Row("create 2-port NLB (the cluster's first: also its backend group and node rule)",
                measure(provider, ensure("web", two_ports, 3)), "~18-20"),
            Row("no-change re-plan of that NLB (from the inventory)", measure(provider, ensure("web", two_ports, 3)),
                "~12"),
            Row("node added (3 -> 4 nodes)", measure(provider, ensure("web", two_ports, 4))),
            Row("node removed (4 -> 3 nodes)", measure(provider, ensure("web", two_ports, 3))),
            Row("one port changed (80 -> 8080)",
                measure(provider, ensure("web", [(8080, Protocol.TCP, 30080), (443, Protocol.TCP, 30443)], 3))),
            Row("create a second 2-port NLB", measure(provider, ensure("api", two_ports, 3)), "~18-20"),
            Row("fast sweep, nothing drifted (per re-sync period, any number of Services)",
                measure(provider, provider.sweep), "~12 per Service"),
            Row("deep sweep (also every listener and target group's targets)",
                measure(provider, lambda: provider.sweep(deep=True))),
        ]
        restarted = AWSProvider(ProviderSettings(CLUSTER, {}))
        rows.append(Row("first re-plan after a controller restart (sweep, then the Service's listeners and targets)",
                        measure(restarted, lambda: restarted.ensure_service(spec(sandbox, "api", two_ports, 3)))))
        rows.append(Row("delete a 2-port NLB",
                        measure(provider, lambda: provider.delete_service(ServiceRef("default", "api")))))
        rows.append(Row("create 2-port Classic ELB", measure(provider, ensure("old", two_ports, 3, clb))))
        rows.append(Row("no-change re-plan of that Classic ELB", measure(provider, ensure("old", two_ports, 3, clb)),
                        "~12"))
        rows.append(Row("garbage-collection listing (a sweep)", measure(provider, provider.owned_services)))
        rows.append(Row("delete the Classic ELB",
                        measure(provider, lambda: provider.delete_service(ServiceRef("default", "old")))))
        rows.append(Row("delete the cluster's last NLB (also its backend group and node rule)",
                        measure(provider, lambda: provider.delete_service(ServiceRef("default", "web")))))
        assert sandbox.leftovers() == [], sandbox.leftovers()
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| scenario | AWS calls | of which writes | upstream cloud-provider-aws | calls by action |",
             "|---|---:|---:|---:|---|"]
    for row in rows:
        detail = ", ".join(f"{action.replace('elasticloadbalancing:', 'elb:')} {n}"
                           for action, n in sorted(row.calls.items()))
        lines.append(f"| {row.scenario} | {row.total} | {row.writes} | {row.upstream or '-'} | {detail} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    text = ("# AWS API calls per scenario\n\n"
            "Counted with botocore's `before-call` event on the provider's clients, against moto over HTTP; "
            "2 ports, 3-4 nodes, one provider process (its inventory warm after the start-up sweep). Upstream "
            "figures are those quoted in the issue for cloud-provider-aws.\n\n"
            + table(run()))
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "aws_api_calls.md").write_text(text)


if __name__ == "__main__":
    main()
