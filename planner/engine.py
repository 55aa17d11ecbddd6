"""Runs a Pulumi program under the SDK's mock engine and captures what it registers.

No Pulumi CLI, no credentials, no network: a ``MockMonitor`` records every
RegisterResource request (type, name, parent, dependencies and the inputs as
the engine receives them, secrets still wrapped) and echoes inputs back as the
resource's state. The same capture serves the offline plan and the tests.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import heapq
import json
import runpy
import secrets
import string
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.settings import SETTINGS, set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

# The signature key and value Pulumi uses to mark a secret in a property map: the SDK's own definition
# (the pinned SDK's serializer), named here once for the capture, the plan and the tests.
SECRET_SIG_KEY: str = rpc._special_sig_key
SECRET_SIG: str = rpc._special_secret_sig
MASK = "[secret]"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def project_name(root: Path = PROJECT_ROOT) -> str:
    """The project's name, from ``Pulumi.yaml``: the namespace of its stack config keys."""
    return str(yaml.safe_load((root / "Pulumi.yaml").read_text())["name"])


@dataclass
class CapturedResource:
    """One RegisterResource request, as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    provider: str | None = None
    additional_secret_outputs: list[str] = field(default_factory=list)
    outputs: dict[str, Any] | None = None
    """The state the (mock) provider returned: what the engine hands ``AnalyzeStack``."""
    aliases: list[dict[str, str]] = field(default_factory=list)
    """The alias specs the resource was registered with (``name``, ``type``, ``parentUrn``, ``urn``: the set ones)."""

    @property
    def plain_inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped: for applying to a test server, never for printing."""
        return unwrap_secrets(self.inputs)

    @property
    def masked_inputs(self) -> dict[str, Any]:
        return mask_secrets(self.inputs)


@dataclass
class Capture:
    """Everything one program run registered, in canonical order (``canonical_order``)."""

    resources: list[CapturedResource]
    outputs: dict[str, Any]

    def of_type(self, type_token: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    if is_secret(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, Mapping):
        return {k: unwrap_secrets(x) for k, x in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(x) for x in value]
    return value


def mask_secrets(value: Any) -> Any:
    if is_secret(value):
        return MASK
    if isinstance(value, Mapping):
        return {k: mask_secrets(x) for k, x in value.items()}
    if isinstance(value, list):
        return [mask_secrets(x) for x in value]
    return value


RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"


class EchoMocks(pulumi.runtime.Mocks):
    """A created resource's state is its inputs; invokes return nothing.

    A RandomPassword gets a fresh random ``result``, as the provider makes one on
    create or replace, so what a stack derives from it (a KV write) is concrete.
    """

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == RANDOM_PASSWORD:
            alphabet = string.ascii_letters + string.digits + ("!#%&*+-=?@^_" if state.get("special") else "")
            state["result"] = "".join(secrets.choice(alphabet) for _ in range(int(state.get("length", 32))))
        return (f"{args.name}-id" if args.custom else None), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class CaptureMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that records each registration with its parent and dependencies.

    ``on_register`` (if given) is called with each captured resource, e.g. to drive a progress bar.
    """

    def __init__(
        self,
        mocks: pulumi.runtime.Mocks | None = None,
        on_register: Callable[[CapturedResource], None] | None = None,
    ) -> None:
        super().__init__(mocks or EchoMocks())
        self.captured: list[CapturedResource] = []
        self.on_register = on_register

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        """What ``MockMonitor.RegisterResource`` does, deserializing the inputs once (for the mocks and the
        capture both) and, when the mocks echo them, answering with the request's own property struct
        instead of serializing the same values back."""
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        pulumi_mocks._ensure_event_loop()  # deserializing resource references needs a loop on this thread
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        known = not _holds_unknown(inputs)
        mock_inputs = inputs if known else rpc.deserialize_properties(request.object)
        id_, state = self.mocks.new_resource(
            pulumi.runtime.MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=mock_inputs,
                provider=request.provider,
                resource_id=request.importId,
                custom=request.custom or False,
                transforms=pulumi_mocks._resolve_callbacks(request.transforms),
            )
        )
        echoed = known and state == mock_inputs
        properties = request.object if echoed else _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_ or "", state)
        resource = CapturedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            inputs=canonical(inputs),
            dependencies=sorted(set(request.dependencies)),
            # A component has no provider of its own; the Kubernetes provider it passes on to its children is its.
            provider=request.provider or dict(request.providers).get("kubernetes") or None,
            additional_secret_outputs=sorted(request.additionalSecretOutputs),
            aliases=[_alias(a) for a in request.aliases],
            outputs=state,
        )
        self.captured.append(resource)
        if self.on_register is not None:
            self.on_register(resource)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=properties)


def _holds_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(_holds_unknown(x) for x in value.values())
    if isinstance(value, list):
        return any(_holds_unknown(x) for x in value)
    return False


def canonical(value: Any) -> Any:
    """Inputs as plain data in one order: mapping keys sorted (their order means nothing to the engine) and
    whole numbers as ints (a protobuf Struct carries every number as a double)."""
    if isinstance(value, Mapping):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(x) for x in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _alias(alias: Any) -> dict[str, str]:
    if alias.HasField("spec"):
        spec = alias.spec
        found = {"name": spec.name, "type": spec.type, "parentUrn": spec.parentUrn}
        return {k: x for k, x in found.items() if x}
    return {"urn": alias.urn}


def canonical_order(resources: list[CapturedResource]) -> list[CapturedResource]:
    """The resources in an order that is the same on every run: parents and dependencies first, then by name.

    The SDK registers from a thread pool, so the order requests arrive in varies between runs; this
    is a topological order of the parent and dependency edges (what an engine must respect) with
    ties broken by name and URN.
    """
    by_urn = {r.urn: r for r in resources}
    waiting = {r.urn: {u for u in (r.parent, *r.dependencies) if u in by_urn and u != r.urn} for r in resources}
    dependents: dict[str, list[str]] = {}
    for urn, needs in waiting.items():
        for need in needs:
            dependents.setdefault(need, []).append(urn)
    ready = [(by_urn[u].name, u) for u, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    ordered: list[CapturedResource] = []
    while ready:
        _, urn = heapq.heappop(ready)
        ordered.append(by_urn[urn])
        for dependent in dependents.get(urn, ()):
            waiting[dependent].discard(urn)
            if not waiting[dependent]:
                heapq.heappush(ready, (by_urn[dependent].name, dependent))
    if len(ordered) != len(resources):  # a cycle cannot come from the SDK; keep everything regardless
        seen = {r.urn for r in ordered}
        ordered += sorted((r for r in resources if r.urn not in seen), key=lambda r: (r.name, r.urn))
    return ordered


# A registration allocates thousands of short-lived objects (futures, tasks, protobuf messages); with
# the default gen-0 threshold of 700 the collector runs so often that, at 1,000 workloads, it took
# 60% of a run (39 s of the capture, 14 s of a plain-SDK baseline). Collecting every 50,000
# allocations halves both and keeps peak memory within a few percent.
GC_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def no_source_positions() -> Iterator[None]:
    """Register without the source position of each resource: the mock engine has no use for it.

    The SDK walks the whole Python stack at every registration (and turns each frame's file name
    into a URI) so that the real engine can point diagnostics at a line; the capture keeps nothing
    of it. A resource class generated for a provider (``vault.Policy``) pays it, a bare
    ``pulumi.CustomResource`` does not (the SDK finds no caller frame for it), so skipping it also
    keeps the plan and its plain-SDK baseline comparable. ``pulumi preview``/``up`` are untouched.
    """
    saved = sdk_resource._get_stack_trace
    sdk_resource._get_stack_trace = source_pb2.StackTrace  # an empty trace: no frames, no position
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = saved


@contextlib.contextmanager
def tuned_gc() -> Iterator[None]:
    """Run a block with the collector's young generation sized for allocation-heavy SDK work."""
    saved = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack config as the language host hands it over: structured values JSON-encoded."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def run_program(
    program: Callable[[], Any] | Path,
    config: Mapping[str, Any] | None = None,
    *,
    project: str | None = None,
    stack: str = "dev",
    secret_keys: list[str] | None = None,
    preview: bool = True,
    mocks: pulumi.runtime.Mocks | None = None,
    monitor: CaptureMonitor | None = None,
    on_register: Callable[[CapturedResource], None] | None = None,
) -> Capture:
    """Run ``program`` (a callable, or the path of a ``__main__.py``) and capture it.

    Raises whatever the program raises (a ``SpecError`` for bad config), after
    the runtime has settled, so nothing half-registered leaks into the next run.
    """
    monitor = monitor or CaptureMonitor(mocks, on_register)
    set_root_resource(None)  # type: ignore[arg-type]
    project = project or project_name()
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    set_all_config(config_strings(config or {}), secret_keys or [])
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()

    def run() -> None:
        if callable(program):
            program()
            return
        root = str(Path(program).resolve().parent)
        added = root not in sys.path
        if added:
            sys.path.insert(0, root)
        try:
            runpy.run_path(str(program), run_name="__main__")
        finally:
            if added:
                sys.path.remove(root)

    with tuned_gc(), no_source_positions():
        _sync_await(run_pulumi_func(run))
        root_stack = pulumi.runtime.settings.get_root_resource()
        outputs = _resolve_outputs(getattr(root_stack, "outputs", {}) or {})
        return Capture(resources=canonical_order(monitor.captured), outputs=outputs)


def _resolve_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Stack exports, with secret ones wrapped the way the engine would store them.

    An export that is already an ``Output`` is awaited as it is: ``Output.from_input`` on an
    Output re-lifts every leaf of its value into an Output of its own (100,000 of them for the
    1,000-workload benchmark's ``access`` and ``delivered``). Only a value that still holds an
    Output somewhere inside goes through ``from_input``.
    """
    resolved: dict[str, Any] = {}
    for name, value in outputs.items():
        secret = False
        if isinstance(value, pulumi.Output):
            secret = _sync_await(value.is_secret())
            value = _sync_await(value.future())
        if _holds_output(value):
            lifted = pulumi.Output.from_input(value)
            secret = secret or _sync_await(lifted.is_secret())
            value = _sync_await(lifted.future())
        resolved[name] = {SECRET_SIG_KEY: SECRET_SIG, "value": value} if secret else value
    return resolved


def _holds_output(value: Any) -> bool:
    if isinstance(value, pulumi.Output):
        return True
    if isinstance(value, Mapping):
        return any(_holds_output(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_output(v) for v in value)
    return False
