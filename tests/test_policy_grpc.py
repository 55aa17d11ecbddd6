"""The pack as its own process, spoken to over gRPC the way the Pulumi engine does.

The engine boots a Python pack with the ``pulumi-analyzer-policy-python`` plugin, which runs
``python -u -m pulumi.policy <engine address> <pack dir>`` in the pack's directory;
``PolicyPack(...)`` serves the Analyzer service on a loopback port and prints the port as the
first line of stdout. The engine then calls ``GetAnalyzerInfo``, ``Configure``, ``Analyze`` per
resource and ``AnalyzeStack``. The process here gets no PYTHONPATH: the pack loads on its own.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc, engine_pb2_grpc

from policies import catalog
from policies.wire import SECRET_SIG, SIG_KEY, UNKNOWN_STRING, to_struct
from tests.policy_fixtures.resources import KNOWN_SECRET

PACK_DIR = Path(__file__).resolve().parent.parent / "policies"
STARTUP_SECONDS = 60
ROLE_URN = "urn:pulumi:ci::secrets-platform::vault:kubernetes/authBackendRole:AuthBackendRole::app-role"
CONFIG_URN = "urn:pulumi:ci::secrets-platform::vault:kubernetes/authBackendConfig:AuthBackendConfig::auth-config"


class RecordingEngine(engine_pb2_grpc.EngineServicer):
    """The engine's side of the connection the analyzer gets: it only needs to exist (and records logs)."""

    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.logs.append(request.message)
        return empty_pb2.Empty()


@pytest.fixture
def engine() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(RecordingEngine(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)


def first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"the pack printed no port within {timeout}s")
    return process.stdout.readline().decode().strip()


@pytest.fixture(params=["engine-plugin", "script"])
def analyzer(request: pytest.FixtureRequest, engine: str) -> Iterator[Any]:
    """An Analyzer stub connected to the pack's own process."""
    if request.param == "engine-plugin":
        argv, cwd = [sys.executable, "-u", "-m", "pulumi.policy", engine, "."], PACK_DIR
    else:
        argv, cwd = [sys.executable, "-u", str(PACK_DIR / "__main__.py")], PACK_DIR.parent
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = first_line(process, STARTUP_SECONDS)
        if not line.isdigit():
            process.kill()
            _, err = process.communicate(timeout=10)
            raise AssertionError(f"first stdout line {line!r} is not a port; stderr: {err.decode()[-2000:]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def role_properties(**overrides: Any) -> dict[str, Any]:
    return {
        "backend": "kubernetes",
        "roleName": "app-role",
        "boundServiceAccountNames": ["app"],
        "boundServiceAccountNamespaces": ["app"],
        "audience": "vault",
        "aliasNameSource": "serviceaccount_uid",
        "tokenPolicies": ["workload-app-app"],
        "tokenTtl": 900,
        "tokenMaxTtl": 3600,
        **overrides,
    }


def test_get_analyzer_info_configure_analyze_over_grpc(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "secrets-platform" and info.supportsConfig
    policies = {p.name: p for p in info.policies}
    assert set(policies) == set(catalog.by_name())
    for rule in catalog.RULES:
        policy = policies[rule.name]
        assert policy.description == rule.description
        assert policy.enforcementLevel == (proto.MANDATORY if rule.level.value == "mandatory" else proto.ADVISORY)
        assert policy.remediation_steps == rule.remediation
        schema = json_format.MessageToDict(policy.configSchema.properties)
        assert set(schema) == {p.name for p in rule.params}
    assert json_format.MessageToDict(policies["vault-role-token-ttl-cap"].configSchema.properties) == {
        "maxTokenTtlSeconds": {
            "type": "integer",
            "minimum": 1.0,
            "default": 3600.0,
            "description": "The largest token_ttl allowed, in seconds.",
        }
    }

    # The default caps pass a 15m token TTL ...
    role = proto.AnalyzeRequest(
        type="vault:kubernetes/authBackendRole:AuthBackendRole",
        urn=ROLE_URN,
        name="app-role",
        properties=to_struct(role_properties()),
    )
    assert [d.policyName for d in analyzer.Analyze(role, timeout=30).diagnostics] == []

    # ... a configured 10m cap does not.
    configure = proto.ConfigureAnalyzerRequest()
    for name, policy in policies.items():
        configure.policyConfig[name].CopyFrom(proto.PolicyConfig(enforcementLevel=policy.enforcementLevel))
    configure.policyConfig["vault-role-token-ttl-cap"].properties.update({"maxTokenTtlSeconds": 600})
    analyzer.Configure(configure, timeout=30)
    (diagnostic,) = analyzer.Analyze(role, timeout=30).diagnostics
    assert diagnostic.policyName == "vault-role-token-ttl-cap"
    assert diagnostic.policyPackName == "secrets-platform"
    assert diagnostic.enforcementLevel == proto.MANDATORY
    assert (
        "[vault-role-token-ttl-cap] vault:kubernetes/authBackendRole:AuthBackendRole 'app-role'" in diagnostic.message
    )
    assert "15m, above the cap of 10m" in diagnostic.message and "Fix: " in diagnostic.message

    # A secret travels wrapped, as the engine sends it; the pack reports the field, never the value.
    auth_config = proto.AnalyzeRequest(
        type="vault:kubernetes/authBackendConfig:AuthBackendConfig",
        urn=CONFIG_URN,
        name="auth-config",
        properties=to_struct(
            {
                "backend": "kubernetes",
                "kubernetesHost": "https://kubernetes.example.com:6443",
                "kubernetesCaCert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                "disableLocalCaJwt": True,
                "tokenReviewerJwt": {SIG_KEY: SECRET_SIG, "value": KNOWN_SECRET},
            }
        ),
        options=proto.AnalyzerResourceOptions(additionalSecretOutputs=["tokenReviewerJwt"]),
    )
    found = analyzer.Analyze(auth_config, timeout=30).diagnostics
    assert [d.policyName for d in found] == ["vault-auth-no-long-lived-reviewer-token"]
    assert KNOWN_SECRET not in found[0].message

    # And the stack as a whole: no audit device.
    stack = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type="vault:kubernetes/authBackendRole:AuthBackendRole",
                urn=ROLE_URN,
                name="app-role",
                properties=to_struct(role_properties(tokenTtl=300)),
            )
        ]
    )
    names = {d.policyName for d in analyzer.AnalyzeStack(stack, timeout=30).diagnostics}
    assert {"vault-audit-device-present", "vault-role-policies-exist"} <= names


def test_an_unknown_is_an_advisory_cannot_check_over_grpc(analyzer: Any) -> None:
    """The engine sends a value a preview cannot know as the unknown sentinel; the served pack reports an advisory
    "can't run policy ... during preview" for that resource and its other rules judge the rest normally."""
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    configure = proto.ConfigureAnalyzerRequest()
    for policy in info.policies:
        configure.policyConfig[policy.name].CopyFrom(proto.PolicyConfig(enforcementLevel=policy.enforcementLevel))
    analyzer.Configure(configure, timeout=30)
    role = proto.AnalyzeRequest(
        type="vault:kubernetes/authBackendRole:AuthBackendRole",
        urn=ROLE_URN,
        name="app-role",
        properties=to_struct(role_properties(audience=UNKNOWN_STRING, boundServiceAccountNames=["app-*"])),
    )
    found = {d.policyName: d for d in analyzer.Analyze(role, timeout=30).diagnostics}
    assert set(found) == {"vault-role-audience-bound", "vault-role-no-glob-bindings"}
    unknown = found["vault-role-audience-bound"]
    assert unknown.enforcementLevel == proto.ADVISORY
    assert unknown.message.startswith("can't run policy 'vault-role-audience-bound' from policy pack 'secrets-platform")
    assert "cannot check during preview: vault:kubernetes/authBackendRole:AuthBackendRole 'app-role'" in unknown.message
    assert found["vault-role-no-glob-bindings"].enforcementLevel == proto.MANDATORY
