"""Property tier: any bad argument raises a ValueError naming the field and registers nothing; no policy rule
raises on any value in any property."""

from __future__ import annotations

import copy
from dataclasses import replace
from functools import cache
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from components import SecretsPlatform
from components.spec import from_config
from planner.engine import CaptureMonitor, run_program
from policies import catalog
from policies.core import Resource
from policies.inputs import pack_resources
from policies.values import UNKNOWN
from policies.wire import UNKNOWN_STRING, decode_properties, to_struct
from tests.conftest import dev_config
from tests.policy_fixtures import capture
from tests.policy_fixtures.cases import CASES

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


# --- the policy pack: no rule raises on any input ----------------------------------------------------------
#
# Every property of every fixture resource (and of the stack's exports) is replaced by hostile values, and
# every rule's check runs on the result directly (not through judge_*, which would hide an exception).


def _fixture_resources() -> list[Resource]:
    """Every resource the policy fixtures register, decoded as the rules see them (inputs and outputs)."""
    seen: dict[tuple[str, str], Resource] = {}
    for case in CASES.values():
        for fixture in (*case.fails, *case.passes):
            captured = capture(fixture)
            for packed in pack_resources(captured.resources, captured.outputs):
                for props in (packed.inputs, packed.state):
                    resource = Resource(
                        packed.type,
                        packed.name,
                        packed.urn,
                        decode_properties(props),
                        packed.parent,
                        frozenset(packed.additional_secret_outputs),
                    )
                    seen.setdefault((resource.type, repr(resource.props)), resource)
    return list(seen.values())


@cache
def fixture_resources() -> tuple[Resource, ...]:
    return tuple(_fixture_resources())


def property_paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 3) -> list[tuple[Any, ...]]:
    """The path of every property and nested value (to ``depth``)."""
    paths: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        paths.append((*prefix, key))
        if depth > 1:
            paths += property_paths(child, (*prefix, key), depth - 1)
    return paths


def replaced(props: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    if isinstance(props, dict):
        return {**props, head: replaced(props.get(head), tuple(rest), value)}
    if isinstance(props, list) and isinstance(head, int) and head < len(props):
        return [replaced(v, tuple(rest), value) if i == head else v for i, v in enumerate(props)]
    return props


HOSTILE = (None, -1.5, "https://[fd00::1:8200", UNKNOWN, [None, 1.0, "x"], {"": {}})
RESOURCE_RULES = [r for r in catalog.RULES if r.scope == "resource"]
STACK_RULES = [r for r in catalog.RULES if r.scope == "stack"]


def judge_raw(resource: Resource, rest: tuple[Resource, ...] = ()) -> None:
    """Every rule's check over ``resource`` (and the stack rules over it with ``rest``), with no safety net."""
    for rule in RESOURCE_RULES:
        if rule.applies(resource.type):
            for problem in rule.check(resource, rule.resolve_config()):
                rule.message(problem, resource.label)
    for rule in STACK_RULES:
        for problem in rule.check((resource, *rest), rule.resolve_config()):
            rule.message(problem, resource.label)


def test_no_rule_raises_on_hostile_values_in_any_property_of_any_fixture_resource() -> None:
    resources = fixture_resources()
    assert len({r.type for r in resources}) >= 25
    shapes = {(r.type, tuple(map(str, property_paths(dict(r.props))))): r for r in resources}  # one per shape
    checked = 0
    for resource in shapes.values():
        for path in property_paths(dict(resource.props)):
            for value in HOSTILE:
                judge_raw(replace(resource, props=replaced(dict(resource.props), path, value)))
                checked += 1
    assert checked > 3000


JSON_KEYS = st.deferred(
    lambda: st.sampled_from(
        sorted(
            {str(p[-1]) for r in fixture_resources() for p in property_paths(dict(r.props)) if isinstance(p[-1], str)}
        )
    )
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers()
    | st.text(max_size=12)
    | st.sampled_from([UNKNOWN_STRING, "true", "T", "0", "*", "+", "/sys/x", "secret/data*", "${X}", "a=b\nc: d"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(JSON_KEYS | st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=JSON)
def test_no_rule_raises_on_arbitrary_json(data: st.DataObject, value: Any) -> None:
    resources = fixture_resources()
    resource = data.draw(st.sampled_from(resources))
    paths = property_paths(dict(resource.props)) or [("extra",)]
    path = data.draw(st.sampled_from(paths))
    props = replaced(dict(resource.props), path, value)
    if data.draw(st.booleans()):  # as the engine marshals it and the policy SDK hands it to a policy
        props = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(to_struct(props))))
    props = decode_properties(props)
    judge_raw(replace(resource, props=props), tuple(data.draw(st.lists(st.sampled_from(resources), max_size=3))))
