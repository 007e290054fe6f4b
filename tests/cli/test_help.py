"""``cloudlb run --help`` documents every operator-facing option, with client-go's leader-election defaults."""

from __future__ import annotations

import subprocess

from tests.cli.support import CLOUDLB


def test_run_help_shows_the_operational_flags() -> None:
    shown = subprocess.run([CLOUDLB, "run", "--help"], capture_output=True, text=True, timeout=60, check=True).stdout
    for flag in ("--serve-unclassed", "--log-level", "--log-format", "--cloud-api-rates", "--health-port",
                 "--leader-elect", "--leader-elect-resource-name", "--leader-elect-resource-namespace",
                 "--leader-elect-lease-duration", "--leader-elect-renew-deadline", "--leader-elect-retry-period"):
        assert flag in shown, flag
    for default in ("[default: 10s]", "[default: 8s]", "[default: 2s]", "[default: info]", "[default: text]"):
        assert default in " ".join(shown.split()), default
    assert "--ignore-unclassed" not in shown and "--peering" not in shown and "--verbose" not in shown
