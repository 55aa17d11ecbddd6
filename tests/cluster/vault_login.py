"""Logging in to OpenBao as a workload, through hvac."""

from __future__ import annotations

from typing import Any

import hvac
import hvac.exceptions

from sandbox.servers import OpenBaoServer

__all__ = ["LoginRefused", "login", "refusal", "refused"]

LoginRefused = (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest, hvac.exceptions.InternalServerError)


def login(bao: OpenBaoServer, mount: str, role: str, token: str) -> hvac.Client:
    """A client holding the Vault token a login with ``token`` on ``auth/<mount>`` as ``role`` returns."""
    client = bao.client(token="")
    answer: dict[str, Any] = client.write_data(f"auth/{mount}/login", data={"role": role, "jwt": token})
    client.token = answer["auth"]["client_token"]
    return client


def refused(bao: OpenBaoServer, mount: str, role: str, token: str) -> str | None:
    """The error of a refused login, or None when the login succeeded."""
    try:
        login(bao, mount, role, token)
    except LoginRefused as exc:
        return str(exc) or type(exc).__name__
    return None


def refusal(bao: OpenBaoServer, mount: str, role: str, token: str) -> str:
    """The error of a login that must fail (an AssertionError if it succeeds)."""
    error = refused(bao, mount, role, token)
    if error is None:
        raise AssertionError(f"a login as {role} on {mount} succeeded but must be refused")
    return error
