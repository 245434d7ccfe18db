"""The `inventory:` configuration section (Ansible inventory, exports, the HTML report)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from graphinv.settings.types import Section


class AnsibleSettings(Section):
    # Which address Ansible connects to: most fleets are reached over the private network (a
    # bastion or VPN), so public addresses are opt-in.
    host_address: Literal["private", "public"] = "private"


class ReportSettings(Section):
    top_findings: int = Field(default=20, ge=1, le=1000)


class InventorySettings(Section):
    ansible: AnsibleSettings = Field(default_factory=AnsibleSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
