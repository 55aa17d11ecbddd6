"""python -m sandbox up|down|token|status — the platform on a workstation, deployed for real.

``up`` starts OpenBao on loopback (raft storage, a file audit device declared in its configuration)
and, when the stack declares databases, PostgreSQL; creates a deployer token with exactly the
stack's deployer policy; and deploys the stack with the Pulumi engine `tools/toolchain` built (a
local file backend and passphrase under .sandbox/). With no cluster at hand, workloads log in through
jwt auth against a key of the sandbox's own and Kubernetes manifests are rendered to
.sandbox/rendered. ``token`` mints a workload's service-account token; ``down`` destroys the stack and
stops what ``up`` started.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from components.deployer_policy import deployer_policy
from sandbox import stacks
from sandbox.engine import PulumiCli, Stack, missing_programs, toolchain_bin
from sandbox.issuer import ServiceAccountIssuer
from sandbox.servers import OpenBaoServer, PostgresServer, find_postgres_bindir

DEFAULT_DIR = stacks.PROJECT_ROOT / ".sandbox"
STACK = "sandbox"


def sandbox_config(source: Path, bao: OpenBaoServer, issuer: ServiceAccountIssuer, work: Path) -> dict[str, Any]:
    """The chosen stack file aimed at the sandbox: its OpenBao (audit devices in the server's
    configuration), jwt auth with the sandbox's issuer, manifests rendered to a directory."""
    config = stacks.with_jwt_issuer(stacks.against(stacks.stack_file(source), bao, work / "rendered"), issuer)
    config = stacks.on_openbao(config, stacks.audit_files(work))
    # No cluster runs the operators here: only the per-workload objects are rendered.
    delivery = config.setdefault(stacks.key("delivery"), {})
    for operator in ("externalSecrets", "csi", "agentInjector"):
        delivery[operator] = {**delivery.get(operator, {}), "install": False}
    return config


def pulumi(work: Path, token: str) -> PulumiCli:
    """The CLI on the sandbox's backend, with its passphrase (made once, kept beside the backend, 0600)."""
    passphrase = work / "passphrase"
    if not passphrase.exists():
        passphrase.touch(mode=0o600)
        passphrase.write_text(secrets.token_urlsafe(24))
    return PulumiCli(
        toolchain_bin(), work / "pulumi-home", work, passphrase=passphrase.read_text(), extra_env={"VAULT_TOKEN": token}
    )


def up(work: Path, source: Path) -> int:
    bin_dir = toolchain_bin()
    if missing := missing_programs(bin_dir):
        print(f"error: {', '.join(missing)} not built in {bin_dir}: run tools/toolchain first", file=sys.stderr)
        return 2
    if (work / "openbao" / "init.json").exists():
        print(f"error: a sandbox is already up in {work} (python -m sandbox down first)", file=sys.stderr)
        return 2
    work.mkdir(parents=True, exist_ok=True)
    bao = OpenBaoServer(audit_config=stacks.server_audit_config(stacks.audit_files(work)), directory=work / "openbao")
    bao.start(detached=True)
    bao.initialise()
    issuer = ServiceAccountIssuer("https://sandbox.vaultk8s.local")
    issuer.save(work / "issuer.json")

    config = sandbox_config(source, bao, issuer, work)
    databases = config.get(stacks.key("databases"), [])
    pg: PostgresServer | None = None
    if databases:
        bindir = find_postgres_bindir()
        if bindir is None:
            print("error: the stack declares databases: apt-get install postgresql", file=sys.stderr)
            return 2
        pg = PostgresServer(bindir, work / "postgres")
        pg.create()
        for database in databases:
            database.update(connectionUrl=pg.connection_url, username="postgres")
            database.pop("password", None)
            database["rotateRoot"] = False

    root = bao.client()
    root.sys.create_or_update_acl_policy("deployer", deployer_policy(stacks.platform(config)))
    deployer = root.auth.token.create(policies=["deployer"], no_default_policy=True, ttl="768h")["auth"]["client_token"]
    cli = pulumi(work, deployer)
    cli.install_plugins()
    stack = cli.stack(STACK, config)
    (work / "deployer-token").write_text(deployer)
    (work / "deployer-token").chmod(0o600)
    if pg is not None:
        for i in range(len(databases)):
            stack.set_secret(f"{stacks.key('databases')}[{i}].password", pg.admin_password, path=True)
    print(f"deploying {source.name} to OpenBao at {bao.address} (pulumi up; log: {cli.log})", file=sys.stderr)
    stack.up()
    print(instructions(work, bao, stack))
    return 0


def instructions(work: Path, bao: OpenBaoServer, stack: Stack) -> str:
    roles = stack.outputs().get("roles", {})
    spec = stacks.platform(stack.config())
    lines = [f"OpenBao: {bao.address}  (root token and unseal key: {work / 'openbao' / 'init.json'})", ""]
    for workload in spec.workloads:
        role = roles.get(workload.name, workload.role)
        lines.append(f"{workload.name} ({workload.namespace}/{workload.service_account}):")
        lines.append(f"  export VAULT_ADDR={bao.address}")
        mount = spec.cluster_of(workload).auth_mount
        lines.append(
            f"  export VAULT_TOKEN=$(bao write -field=token auth/{mount}/login role={role} "
            f"jwt=$(python -m sandbox token {workload.namespace} {workload.service_account}))"
        )
        for secret in workload.secrets:
            lines.append(f"  bao kv get -mount={secret.mount} -field={secret.key} {secret.key_path}")
        for credential in workload.database_credentials:
            lines.append(f"  bao read {credential.api_path}")
    return "\n".join(lines)


def token(work: Path, namespace: str, service_account: str, audience: str) -> int:
    issuer = ServiceAccountIssuer.load(work / "issuer.json")
    print(issuer.issue(namespace, service_account, [audience]))
    return 0


def down(work: Path) -> int:
    if not (work / "openbao" / "init.json").exists():
        print(f"no sandbox in {work}", file=sys.stderr)
        return 0
    bao = OpenBaoServer.attach(work / "openbao")
    deployer = (work / "deployer-token").read_text() if (work / "deployer-token").exists() else bao.root_token
    Stack(pulumi(work, deployer), STACK).run("destroy", "--yes", "--skip-preview", check=False)
    bao.stop()
    if (work / "postgres" / "server.json").exists():
        PostgresServer.attach(work / "postgres").stop()
    shutil.rmtree(work)
    print("sandbox destroyed and stopped", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the sandbox keeps its state")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start OpenBao (and PostgreSQL) and deploy a stack")
    start.add_argument("--stack", default="dev", help="a stack of this project: Pulumi.<stack>.yaml")
    start.add_argument("--config-file", type=Path, help="any stack file, e.g. examples/Pulumi.full.yaml")
    mint = sub.add_parser("token", help="a workload's service-account token for jwt login")
    mint.add_argument("namespace")
    mint.add_argument("service_account")
    mint.add_argument("--audience", default="vault")
    sub.add_parser("down", help="destroy the stack and stop the servers")
    args = parser.parse_args(argv)
    if args.command == "up":
        source = args.config_file or stacks.PROJECT_ROOT / f"Pulumi.{args.stack}.yaml"
        if not source.is_file():
            print(f"error: {source}: no such stack file", file=sys.stderr)
            return 2
        return up(args.dir, source)
    if args.command == "token":
        return token(args.dir, args.namespace, args.service_account, args.audience)
    return down(args.dir)


if __name__ == "__main__":
    sys.exit(main())
