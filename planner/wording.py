"""The words every rendering of a plan shares (text, markdown, HTML, the diff): said once, here.

Durations are shown as the objects carry them (``components.durations.format_duration``:
``5m``, ``1h30m``, ``720h``); a delivered value's lifetime reads the same in every format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.durations import format_duration

NONE = "-"


def duration(seconds: Any) -> str:
    """Whole seconds as a duration, or ``-`` when there is none."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return NONE
    return format_duration(int(seconds))


def staleness(delivery: Mapping[str, Any]) -> str:
    """How stale a delivered value can get: ``stale <= 5m``, ``never refreshed``, or ``none`` (read live)."""
    stale = delivery.get("stalenessSeconds")
    if stale is None:
        return "never refreshed"
    return "stale: none (read live)" if stale == 0 else f"stale <= {duration(stale)}"


def lifetime(delivery: Mapping[str, Any]) -> str:
    """Staleness and lease or rotation of a delivered value, e.g. ``stale <= 40m; lease 1h (max 8h), renewed by ..``."""
    parts = [staleness(delivery)]
    renewed = f", renewed by {delivery['renewedBy']}" if delivery.get("renewedBy") else ""
    if delivery.get("leaseTtlSeconds") is not None:
        ttl, most = duration(delivery["leaseTtlSeconds"]), duration(delivery.get("leaseMaxTtlSeconds"))
        parts.append(f"lease {ttl} (max {most}){renewed}")
    elif delivery.get("rotationPeriodSeconds") is not None:
        parts.append(f"password rotated every {duration(delivery['rotationPeriodSeconds'])}{renewed}")
    return "; ".join(parts)


def token(workload: Mapping[str, Any]) -> str:
    return f"token {duration(workload.get('tokenTtl'))} (max {duration(workload.get('tokenMaxTtl'))})"


def identity(workload: Mapping[str, Any]) -> str:
    """``namespace/serviceAccount``, and the cluster it is an identity of: the same names in two clusters are
    two identities."""
    who = f"{workload.get('namespace')}/{workload.get('serviceAccount')}"
    return f"{who} in cluster {workload['cluster']}" if workload.get("cluster") else who


def delivery_label(delivery: Mapping[str, Any]) -> str:
    """How a value reaches the pod: ``api-key via external-secrets``."""
    return f"{delivery.get('name')} via {delivery.get('delivery')}"


def resource_count(resources: list[Mapping[str, Any]]) -> str:
    """What the resource tree shows: every resource, custom ones and the components they sit in."""
    custom = sum(1 for r in resources if r.get("custom"))
    return f"{len(resources)} resources ({custom} custom, {len(resources) - custom} components)"
