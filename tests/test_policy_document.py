"""Pure tier: the policy-document builder."""

from __future__ import annotations

import string

import hcl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.policy_document import CAPABILITIES, render_policy, rule
from components.validation import SpecError
from tests.conftest import grants

SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)
PATHS = st.builds(
    lambda segs, glob: "/".join(segs) + ("*" if glob else ""),
    st.lists(SEGMENT, min_size=1, max_size=5),
    st.booleans(),
)
CAPS = st.lists(st.sampled_from([c for c in CAPABILITIES if c != "deny"]), min_size=1, max_size=5, unique=True)


def test_renders_exactly_the_rules() -> None:
    document = render_policy([rule("secret/data/myapp", "read")])
    assert document == 'path "secret/data/myapp" {\n  capabilities = ["read"]\n}\n'
    assert hcl.loads(document) == {"path": {"secret/data/myapp": {"capabilities": ["read"]}}}


def test_merges_rules_on_one_path_in_canonical_order() -> None:
    rules = [rule("a/b", "update"), rule("a/b", "read"), rule("a/a", "list")]
    document = render_policy(rules)
    assert grants(document) == {"a/a": ("list",), "a/b": ("read", "update")}
    assert document.index('"read", "update"')  # canonical order: read before update


def test_a_merge_cannot_mix_deny_with_a_grant() -> None:
    with pytest.raises(SpecError, match="'deny' alone"):
        render_policy([rule("a/b", "deny"), rule("a/b", "read")])


@settings(deadline=None)  # pyhcl's parse time swings with the load of a shared machine
@given(st.lists(st.tuples(PATHS, CAPS), min_size=1, max_size=8))
def test_round_trips_through_hcl(pairs: list[tuple[str, list[str]]]) -> None:
    rules = [rule(path, *caps) for path, caps in pairs]
    expected: dict[str, set[str]] = {}
    for path, caps in pairs:
        expected.setdefault(path, set()).update(caps)
    assert {path: set(caps) for path, caps in grants(render_policy(rules)).items()} == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        'secret/data/a" {\n capabilities = ["sudo"]\n}\npath "sys/*',
        "secret/data/a\nb",
        "secret/*/a",
        "secret/../sys",
        "/secret/data/a",
        "secret//a",
        "secret/data/a b",
        "secret/da+ta",
        "secret/{{oops",
        "secret/data/\x00",
    ],
)
def test_refuses_malformed_paths(path: str) -> None:
    with pytest.raises(SpecError, match="path"):
        rule(path, "read")


@pytest.mark.parametrize("caps", [(), ("reed",), ("read", "deny"), ("root",)])
def test_refuses_unknown_or_contradictory_capabilities(caps: tuple[str, ...]) -> None:
    with pytest.raises(SpecError, match="capabilities|one of|deny"):
        rule("secret/data/a", *caps)


@settings(deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_no_input_opens_another_stanza(path: str) -> None:
    """Whatever the path, either it is refused or the document has exactly that one stanza."""
    try:
        document = render_policy([rule(path, "read")])
    except SpecError:
        return
    assert grants(document) == {path: ("read",)}


def test_templated_paths_and_segment_wildcards_are_accepted() -> None:
    path = "secret/data/{{identity.entity.aliases.auth_kubernetes_1.metadata.service_account_namespace}}/+/cfg"
    assert list(grants(render_policy([rule(path, "read")]))) == [path]


def test_an_empty_rule_set_is_refused() -> None:
    with pytest.raises(SpecError, match="at least one path rule"):
        render_policy([])
