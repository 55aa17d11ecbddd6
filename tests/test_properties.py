"""Property tier: any bad argument raises a ValueError naming the field, and registers nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import SecretsPlatform
from components.spec import from_config
from planner.engine import CaptureMonitor, run_program
from tests.conftest import dev_config

BASE = from_config({k.split(":", 1)[1]: v for k, v in dev_config().items() if k.startswith("secrets-platform:")})

# Field (as a path into the args) -> its schema name in the error, and values that must be refused.
HOSTILE_TEXT = st.one_of(
    st.sampled_from(["", "*", "app-*", "a b", 'a"b', "a\nb", "../x", "x/../y", "a\x00b", "{{x}}", "-a"]),
    st.text(alphabet='*"\n\t {}?\\', min_size=1, max_size=6),
)
FIELDS: list[tuple[tuple[Any, ...], str]] = [
    (("workloads", 0, "name"), "workloads[0].name"),
    (("workloads", 0, "namespace"), "workloads[0].namespace"),
    (("workloads", 0, "service_account"), "workloads[0].serviceAccount"),
    (("workloads", 1, "role"), "workloads[1].role"),
    (("workloads", 0, "secrets", 0, "path"), "workloads[0].secrets[0].path"),
    (("workloads", 1, "secrets", 0, "key"), "workloads[1].secrets[0].key"),
    (("workloads", 1, "token_ttl"), "workloads[1].tokenTtl"),
    (("cluster", "name"), "cluster.name"),
    (("cluster", "auth_mount"), "cluster.authMount"),
    (("cluster", "api_host"), "cluster.apiHost"),
    (("vault", "address"), "vault.address"),
]


def with_value(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    args = copy.deepcopy(BASE)
    target: Any = args
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return args


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=HOSTILE_TEXT)
def test_bad_input_is_refused_before_anything_is_registered(field: tuple[tuple[Any, ...], str], value: str) -> None:
    path, name = field
    monitor = CaptureMonitor()
    with pytest.raises(ValueError) as error:
        run_program(lambda: SecretsPlatform("platform", with_value(path, value)), monitor=monitor)  # type: ignore[arg-type]
    assert str(error.value).startswith(f"{name}: ")
    assert monitor.captured == []


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2), st.booleans()))
def test_wrong_types_are_refused(value: Any) -> None:
    monitor = CaptureMonitor()
    with pytest.raises(ValueError, match=r"^workloads\[0\]\.namespace: "):
        run_program(lambda: SecretsPlatform("p", with_value(("workloads", 0, "namespace"), value)), monitor=monitor)  # type: ignore[arg-type]
    assert monitor.captured == []


def test_the_unmodified_args_do_register() -> None:
    """The control: the same harness with good args registers the platform (so the above is not vacuous)."""
    capture = run_program(lambda: SecretsPlatform("platform", BASE))  # type: ignore[arg-type]
    assert len(capture.resources) > 5
