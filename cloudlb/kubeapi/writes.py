"""What a write request asks beyond its body: dry run, field manager, validation, and what it is told back."""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudlb.kubeapi.fieldvalidation import WARN

# Writes made through EmulatedKubernetes' helpers are recorded under this manager.
HELPER_MANAGER = "cloudlb-kubeapi"


@dataclass
class WriteOptions:
    """``?dryRun=All``, ``fieldManager``, ``fieldValidation``, ``force``; ``warnings`` collects Warning headers.

    ``validate`` False skips the field-value validation of admission (defaulting and
    allocation still run): the helpers use it to plant objects an older API server
    accepted, so a controller's own handling of bad input can be tested.
    """

    manager: str = HELPER_MANAGER
    dry_run: bool = False
    field_validation: str = WARN
    force: bool = False
    validate: bool = True
    warnings: list[str] = field(default_factory=list)
