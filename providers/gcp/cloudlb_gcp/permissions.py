"""The IAM permissions each Compute API method the provider calls needs.

``gcp-permissions.yaml`` (a custom role's ``includedPermissions``) is the union
of these for the methods the provider really calls; a test drives every code
path against the emulator, reads the methods from its request log and checks
both this table and the role against them, so neither can drift.
"""

from __future__ import annotations

# Creating a labelled resource needs setLabels too; a reference to another resource needs its "use".
METHOD_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "addresses.get": ("compute.addresses.get",),
    "addresses.list": ("compute.addresses.list",),
    "addresses.insert": ("compute.addresses.create", "compute.addresses.createInternal",
                         "compute.addresses.setLabels", "compute.subnetworks.use"),
    "addresses.delete": ("compute.addresses.delete", "compute.addresses.deleteInternal"),
    "addresses.setLabels": ("compute.addresses.setLabels",),
    "forwardingRules.get": ("compute.forwardingRules.get",),
    "forwardingRules.list": ("compute.forwardingRules.list",),
    "forwardingRules.insert": ("compute.forwardingRules.create", "compute.forwardingRules.setLabels",
                               "compute.addresses.use", "compute.addresses.useInternal",
                               "compute.regionBackendServices.use", "compute.subnetworks.use",
                               "compute.networks.use"),
    "forwardingRules.delete": ("compute.forwardingRules.delete",),
    "forwardingRules.setLabels": ("compute.forwardingRules.setLabels",),
    "regionBackendServices.get": ("compute.regionBackendServices.get",),
    "regionBackendServices.list": ("compute.regionBackendServices.list",),
    "regionBackendServices.insert": ("compute.regionBackendServices.create",
                                     "compute.regionHealthChecks.useReadOnly", "compute.instanceGroups.use"),
    "regionBackendServices.patch": ("compute.regionBackendServices.update",
                                    "compute.regionHealthChecks.useReadOnly", "compute.instanceGroups.use"),
    "regionBackendServices.delete": ("compute.regionBackendServices.delete",),
    "regionHealthChecks.get": ("compute.regionHealthChecks.get",),
    "regionHealthChecks.list": ("compute.regionHealthChecks.list",),
    "regionHealthChecks.insert": ("compute.regionHealthChecks.create",),
    "regionHealthChecks.patch": ("compute.regionHealthChecks.update",),
    "regionHealthChecks.delete": ("compute.regionHealthChecks.delete",),
    "instanceGroups.get": ("compute.instanceGroups.get",),
    "instanceGroups.aggregatedList": ("compute.instanceGroups.list",),
    "instanceGroups.listInstances": ("compute.instanceGroups.list",),
    "instanceGroups.insert": ("compute.instanceGroups.create", "compute.networks.use"),
    "instanceGroups.addInstances": ("compute.instanceGroups.update", "compute.instances.use"),
    "instanceGroups.removeInstances": ("compute.instanceGroups.update", "compute.instances.use"),
    "instanceGroups.delete": ("compute.instanceGroups.delete",),
    "firewalls.get": ("compute.firewalls.get",),
    "firewalls.list": ("compute.firewalls.list",),
    "firewalls.insert": ("compute.firewalls.create", "compute.networks.updatePolicy"),
    "firewalls.patch": ("compute.firewalls.update", "compute.networks.updatePolicy"),
    "firewalls.delete": ("compute.firewalls.delete", "compute.networks.updatePolicy"),
    "instances.list": ("compute.instances.list",),
    "subnetworks.get": ("compute.subnetworks.get",),
    "regionOperations.wait": ("compute.regionOperations.get",),
    "zoneOperations.wait": ("compute.zoneOperations.get",),
    "globalOperations.wait": ("compute.globalOperations.get",),
}


def permissions_for(methods: set[str]) -> set[str]:
    return {permission for method in methods for permission in METHOD_PERMISSIONS[method]}
