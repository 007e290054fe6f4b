"""Named problems with a Service's input: what is wrong, where, and whether it stops the Service."""

from __future__ import annotations

from dataclasses import dataclass

from cloudlb.model import PortKey

# Reasons are CamelCase so that they can be used as Event reasons and, with the
# ``cloudlb.io/`` prefix, as ``status.loadBalancer.ingress[].ports[].error``.
PROTOCOL_NOT_SUPPORTED = "ProtocolNotSupported"
INVALID_PORT = "InvalidPort"
DUPLICATE_PORT = "DuplicatePort"
MISSING_NODE_PORT = "MissingNodePort"
# The Service asks for an IP family (spec.ipFamilies) that the chosen load balancer cannot serve.
IP_FAMILY_NOT_SUPPORTED = "IPFamilyNotSupported"
TOO_MANY_PORTS = "TooManyPorts"
INVALID_SOURCE_RANGE = "InvalidSourceRange"
INVALID_ANNOTATION = "InvalidAnnotation"
INVALID_LOAD_BALANCER_IP = "InvalidLoadBalancerIP"
UNSUPPORTED_OPTION = "UnsupportedOption"
# An annotation in a namespace the provider speaks for that it does not honour (ignored, never silently).
UNSUPPORTED_ANNOTATION = "UnsupportedAnnotation"
# A field of the wrong type (a string where a list belongs): the API server never sends one, a fuzzer or a
# hand-made object in a test cluster might.
INVALID_FIELD = "InvalidField"
# Reading the Service raised an exception: a bug of ours or a plugin's, reported instead of retried forever.
UNPROCESSABLE_SERVICE = "UnprocessableService"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a Service, named by the field it comes from.

    ``port`` is set for problems that only take that port out of service; the
    rest of the Service is still served. A ``fatal`` problem stops the whole
    Service from being ensured, because serving it anyway could do harm (an
    invalid source range must not open a load balancer to the world, a malformed
    ``internal`` annotation must not make it public).
    """

    field: str
    reason: str
    message: str
    port: PortKey | None = None
    fatal: bool = False

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    @property
    def status_error(self) -> str:
        return f"cloudlb.io/{self.reason}"
