"""Vault audit devices: every request and response, HMAC'd, to at least one sink.

Vault refuses to serve a request it cannot audit, so a platform declares two devices of different
kinds: one blocked device then does not stop Vault. On Vault the stack creates them through the API;
OpenBao refuses that (CVE-2025-54997: a file or socket device writes wherever the server can), so there
they are declared in the server's configuration file, and the stack renders the stanzas it must hold.
"""

import json
from typing import Any

from .model import AuditDevice


def _options(device: AuditDevice) -> dict[str, str]:
    option = {"file": "file_path", "socket": "address", "syslog": "tag"}[device.type]
    return {option: device.target, **({"socket_type": "tcp"} if device.type == "socket" else {})}


def audit_inputs(device: AuditDevice) -> dict[str, Any]:
    """Inputs of ``vault.Audit``: the device type, its mount path and its type's required option."""
    return {
        "type": device.type,
        "path": device.path,
        "options": _options(device),
        "description": f"{device.type} audit device, managed by vaultk8s",
    }


def server_config_stanzas(devices: tuple[AuditDevice, ...]) -> str:
    """The `audit "<type>" "<path>"` stanzas of an OpenBao server configuration declaring ``devices``."""
    blocks = []
    for device in devices:
        options = "".join(f"    {key} = {json.dumps(value)}\n" for key, value in sorted(_options(device).items()))
        blocks.append(
            f"audit {json.dumps(device.type)} {json.dumps(device.path)} {{\n"
            f"  description = {json.dumps(f'{device.type} audit device, declared for vaultk8s')}\n"
            f"  options {{\n{options}  }}\n}}\n"
        )
    return "".join(blocks)
