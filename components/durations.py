"""Durations: parsed once at the edge into whole seconds, formatted once where an object needs text.

The model holds every duration as whole seconds. ``parse_duration`` is the only reader of
duration text (stack config, component args); ``format_duration`` the only writer, in Go's
``time.Duration`` syntax (``90s``, ``15m``, ``1h30m``, ``720h``), which Kubernetes controllers
(External Secrets' ``refreshInterval``, the CSI driver's ``rotationPollInterval``) and Vault
both parse, and which the plan shows.
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (86400, 3600, 60, 1)

DURATION_SYNTAX = "a duration such as '90s', '15m', '1h30m', '30d' or whole seconds"


def parse_duration(value: object) -> int | None:
    """Whole seconds of ``90s``, ``15m``, ``1h30m``, ``30d``, ``3600`` or an int; None when it is none of these."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit():
        return int(value)
    match = _DURATION.match(value)
    if match is None or not any(match.groups()):
        return None
    return sum(int(part or 0) * unit for part, unit in zip(match.groups(), _UNITS, strict=True))


def format_duration(seconds: int) -> str:
    """Whole seconds as a Go duration: ``2400`` -> ``40m``, ``4806`` -> ``1h20m6s``, ``0`` -> ``0s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"
