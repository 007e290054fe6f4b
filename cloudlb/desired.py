"""From the Services of one load-balancer key to the desired load balancer and each Service's problems. Pure.

Used by the reconciler and by ``cloudlb plan``, so that what the plan shows is
exactly what ``run`` would ensure. Anything that goes wrong while reading a
Service (even a bug of ours) becomes a named problem on that Service, never an
exception: one odd manifest must not stall the load balancer of others.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudlb import problems as p
from cloudlb import sharing
from cloudlb.endpoints import NO_ENDPOINTS, ServiceEndpoints
from cloudlb.model import Backend, DesiredLoadBalancer, LoadBalancerKey, LoadBalancerSpec, ServiceRef
from cloudlb.plan import Plan as Fit
from cloudlb.plan import plan as fit
from cloudlb.problems import Problem
from cloudlb.provider import Provider
from cloudlb.translate import service_ref, translate

logger = logging.getLogger(__name__)
NO_SERVABLE_PORTS = "NoServablePorts"


@dataclass(frozen=True)
class MemberOutcome:
    """What became of one Service of the key: its problems, and whether it is served."""

    problems: tuple[Problem, ...] = ()
    # Its own input is unusable (fatal problem): the load balancer keeps what it last served for it.
    blocked: bool = False
    # None of its ports can be served here: it must have no listeners at all.
    unservable: bool = False
    offering: str = ""

    @property
    def fatal(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.fatal)


@dataclass(frozen=True)
class DesiredState:
    """The desired load balancer of a key, and what became of each member Service.

    ``unknown`` lists members whose input is unusable and whose last good spec
    this process does not know (it restarted since): where the load balancer
    exists, it must be left exactly as it is rather than planned without them.
    """

    key: LoadBalancerKey
    desired: DesiredLoadBalancer | None
    outcomes: Mapping[ServiceRef, MemberOutcome] = field(default_factory=dict)
    unknown: tuple[ServiceRef, ...] = ()


def fit_service(service: Mapping[str, Any], backends: Sequence[Backend], provider: Provider[Any],
                endpoints: ServiceEndpoints = NO_ENDPOINTS) -> Fit | Problem:
    """Translate and fit one Service; an unexpected exception becomes a fatal problem naming it."""
    try:
        return fit(translate(service, backends, endpoints), provider)
    except Exception as error:  # a bug of ours or of a plugin must cost only this Service
        return Problem("spec", p.UNPROCESSABLE_SERVICE,
                       f"cloudlb could not read this Service ({type(error).__name__}: {error}); "
                       "please report it with the Service's manifest", fatal=True)


def label_keys(services: Sequence[Mapping[str, Any]], provider: Provider[Any]) -> frozenset[str]:
    """The node labels the load balancer of these Services selects nodes by (see Provider.node_label_keys)."""
    keys: set[str] = set()
    for service in services:
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        try:
            keys |= provider.node_label_keys(annotations if isinstance(annotations, Mapping) else {})
        except Exception:  # an odd annotation is the provider's validate() to name; select by nothing here
            logger.debug("node_label_keys failed for %s", service_ref(service), exc_info=True)
    return frozenset(keys)


def desired_state(key: LoadBalancerKey, services: Sequence[Mapping[str, Any]], backends: Sequence[Backend],
                  provider: Provider[Any], previous: Mapping[ServiceRef, LoadBalancerSpec],
                  endpoints: Callable[[ServiceRef], ServiceEndpoints] = lambda _: NO_ENDPOINTS) -> DesiredState:
    """The load balancer that ``services`` (the members that want one) ask for.

    ``previous`` holds the spec last ensured for each member: a member whose
    input became unusable keeps it, so a typo never takes a working port away.
    ``endpoints`` gives a member's ready endpoints (used by offerings that target them).
    """
    outcomes: dict[ServiceRef, MemberOutcome] = {}
    candidates: list[tuple[tuple[str, str, str], LoadBalancerSpec]] = []
    for service in services:
        ref = service_ref(service)
        fitted = fit_service(service, backends, provider, endpoints(ref))
        extra = _share_key_problems(service)
        if isinstance(fitted, Problem):
            outcomes[ref] = MemberOutcome((fitted, *extra), blocked=True)
            if ref in previous:
                candidates.append((sharing.precedence(service), _kept(previous[ref], backends)))
            continue
        unservable = not fitted.fatal and not fitted.spec.ports
        if unservable and not any(problem.port is not None for problem in fitted.problems):
            # No port was refused, there simply is none: say so, or the Service would wait without a word.
            extra = (*extra, Problem("spec.ports", NO_SERVABLE_PORTS, "the Service has no port to serve"))
        outcome = MemberOutcome((*fitted.problems, *extra), blocked=bool(fitted.fatal), unservable=unservable,
                                offering=fitted.offering.name)
        outcomes[ref] = outcome
        if outcome.blocked:
            spec = _kept(previous[ref], backends) if ref in previous else None
        else:
            spec = None if outcome.unservable else fitted.spec
        if spec is not None:
            candidates.append((sharing.precedence(service), spec))
    candidates.sort(key=lambda item: item[0])
    specs = [spec for _, spec in candidates]
    if not key.shared or len(specs) <= 1:
        members = tuple(specs)
    else:
        assignment = sharing.assign(specs, [_traits(provider, spec) for spec in specs])
        members = assignment.members
        for refusal in assignment.refusals:
            outcomes[refusal.service] = _refused(outcomes.get(refusal.service, MemberOutcome()), refusal)
    desired = DesiredLoadBalancer(key, members) if members else None
    unknown = tuple(sorted(ref for ref, outcome in outcomes.items() if outcome.blocked and ref not in previous))
    return DesiredState(key, desired, outcomes, unknown)


def _kept(spec: LoadBalancerSpec, backends: Sequence[Backend]) -> LoadBalancerSpec:
    """What a member whose input became unusable keeps: its last good spec, on today's nodes."""
    return dataclasses.replace(spec, backends=tuple(backends))


def _traits(provider: Provider[Any], spec: LoadBalancerSpec) -> Any:
    try:
        return provider.sharing_traits(spec)
    except Exception as error:  # never let one member's odd input stop the group
        return ("unsharable", spec.service, type(error).__name__)


def _refused(outcome: MemberOutcome, refusal: sharing.Refusal) -> MemberOutcome:
    if refusal.ports:
        problems = tuple(Problem(f"spec.ports[{port}]", refusal.reason, refusal.message, port=port)
                         for port in refusal.ports)
        return MemberOutcome((*outcome.problems, *problems), outcome.blocked, outcome.unservable, outcome.offering)
    problem = Problem(f"metadata.annotations[{sharing.SHARE_KEY_ANNOTATION}]", refusal.reason, refusal.message,
                      fatal=True)
    return MemberOutcome((*outcome.problems, problem), True, outcome.unservable, outcome.offering)


def _share_key_problems(service: Mapping[str, Any]) -> tuple[Problem, ...]:
    message = sharing.share_key_problem(service)
    if message is None:
        return ()
    return (Problem(f"metadata.annotations[{sharing.SHARE_KEY_ANNOTATION}]", sharing.INVALID_SHARE_KEY, message),)
