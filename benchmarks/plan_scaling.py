"""How the offline plan scales, one dimension at a time, against a plain-SDK baseline run in the same process kind.

    python -m benchmarks.plan_scaling                                   # every dimension, default sizes
    python -m benchmarks.plan_scaling --dimension workloads --sizes 10,100,1000
    python -m benchmarks.plan_scaling --json results.json               # also keep the numbers

Dimensions (``benchmarks/stacks.py``): ``workloads`` (each with three KV secrets, one per delivery,
and its own dynamic database role), ``secrets-per-workload`` (one workload, many keys of one
secret), ``paths-per-policy`` (one workload, one path per secret: a policy of as many stanzas) and
``kv-mounts`` (many mounts, each with a generated, rotating secret).

Every measurement runs in a fresh Python process, so peak memory is its own:

- **plan**: what ``python -m planner --format json`` does: read the stack file, run the stack
  program under the mock engine, run the policy pack, read the access back, render the JSON plan;
  ``stack`` is the program's part of it;
- **baseline** (the workloads dimension): the same resources (type, name, inputs, the
  dependencies between them; secrets as ``pulumi.Output.secret``) registered by plain
  ``pulumi.CustomResource`` calls (Helm charts as the remote components they are) under the same
  mock engine: no components, no validation, no policies.

Times exclude interpreter start-up and imports; the dev stack is timed as the README runs it
(``python -m planner --stack dev`` in a fresh process, start-up included). Each target of issue 12
is printed with met or missed. A measurement, not a test: nothing fails on a miss.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from itertools import pairwise
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.stacks import DIMENSIONS, write  # noqa: E402 (after the path set-up, for `python benchmarks/...`)

DEFAULT_SIZES = {
    "workloads": (10, 100, 1000, 5000),
    "secrets-per-workload": (2000, 8000),
    "paths-per-policy": (2000, 8000),
    "kv-mounts": (100, 400),
}
TARGET_RATIO = 1.3  # 1,000 workloads: plan time over the baseline's
TARGET_MEMORY_RATIO = 1.2  # 1,000 workloads: plan peak memory over the baseline's
TARGET_GROWTH = {  # (smaller size, larger size, at most this factor)
    "workloads": (1000, 5000, 5.3),
    "secrets-per-workload": (2000, 8000, 4.4),
    "paths-per-policy": (2000, 8000, 4.4),
    "kv-mounts": (100, 400, 4.4),
}
TARGET_DEV_SECONDS = 2.0


# --- the measured runs (each in a child process) ----------------------------------------------------------


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def child_plan(stack_file: Path, registrations: Path | None) -> dict[str, Any]:
    from planner.plan import build_plan, plan_document
    from planner.progress import Progress
    from planner.render import plan_json

    class Timing(Progress):
        def __init__(self) -> None:
            self.marks: list[float] = []

        def step(self, label: str, total: int | None = None) -> None:
            self.marks.append(time.perf_counter())

    timing = Timing()
    started = time.perf_counter()
    plan = build_plan(stack_file, progress=timing, engine_limit=False)  # sizes beyond a config-driven stack
    rendered = plan_json(plan_document(plan))
    seconds = time.perf_counter() - started
    durations = [b - a for a, b in pairwise([*timing.marks, started + seconds])]
    phases = dict(zip(("read", "stack", "policy", "access+render"), durations, strict=True))
    if registrations is not None:
        with registrations.open("wb") as handle:
            plain = [r for r in plan.capture.resources if not r.type.startswith("vaultk8s:")]
            pickle.dump([(r.urn, r.type, r.name, r.custom, r.inputs, r.dependencies) for r in plain], handle)
    return {
        "seconds": seconds,
        "peakMb": peak_mb(),
        "resources": len(plan.capture.resources),
        "customResources": sum(r.custom for r in plan.capture.resources),
        "violations": len(plan.violations),
        "jsonBytes": len(rendered),
        "phases": phases,
    }


def child_baseline(registrations: Path, typed: bool = False) -> dict[str, Any]:
    """The same resources, flat: bare ``pulumi.CustomResource`` calls, or (``typed``) the providers' own classes."""
    import pulumi

    from planner.engine import is_secret, run_program

    with registrations.open("rb") as handle:
        found = pickle.load(handle)

    def secrets_as_outputs(value: Any) -> Any:
        if is_secret(value):
            return pulumi.Output.secret(secrets_as_outputs(value.get("value")))
        if isinstance(value, dict):
            return {k: secrets_as_outputs(v) for k, v in value.items()}
        if isinstance(value, list):
            return [secrets_as_outputs(v) for v in value]
        return value

    def program() -> None:
        registered: dict[str, pulumi.Resource] = {}
        for urn, type_, name, custom, inputs, dependencies in found:  # in the capture's (topological) order
            props = secrets_as_outputs(inputs)
            opts = pulumi.ResourceOptions(depends_on=[registered[u] for u in dependencies if u in registered])
            if typed:
                registered[urn] = typed_resource(type_, name, props, opts)
            elif custom:
                registered[urn] = pulumi.CustomResource(type_, name, props, opts)
            else:
                registered[urn] = pulumi.ComponentResource(type_, name, props, opts, remote=True)

    started = time.perf_counter()
    capture = run_program(program, stack="baseline")
    return {"seconds": time.perf_counter() - started, "peakMb": peak_mb(), "resources": len(capture.resources)}


def typed_resource(type_: str, name: str, props: dict[str, Any], opts: Any) -> Any:
    """``type_`` registered through its provider SDK's generated class, as a plain program would write it."""
    import importlib
    import re

    import pulumi_kubernetes as k8s

    package, module, cls_name = type_.split(":")
    kwargs = {re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): v for k, v in props.items()}
    if package == "kubernetes":
        group, _, api_version = module.rpartition("/")
        submodule = {"": "core", "helm.sh": "helm"}.get(group, group.split(".")[0])
        try:
            cls = getattr(importlib.import_module(f"pulumi_kubernetes.{submodule}.{api_version}"), cls_name, None)
        except ImportError:
            cls = None
        if cls is None:  # a custom resource of a CRD
            return k8s.apiextensions.CustomResource(name, opts=opts, **kwargs)
        return cls(name, opts=opts, **kwargs)
    first = module.split("/")[0]
    python_module = f"pulumi_{package}" if first == "index" else f"pulumi_{package}.{first}"
    return getattr(importlib.import_module(python_module), cls_name)(name, opts=opts, **kwargs)


def run_child(*args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.plan_scaling", "--child", *args]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def time_dev_stack(runs: int = 3) -> float:
    """The best of ``runs`` wall times of the README's command (a fresh interpreter each time)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "planner", "--stack", "dev"], cwd=PROJECT_ROOT, capture_output=True, check=True
        )
        best = min(best, time.perf_counter() - started)
    return best


# --- the report ---------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    memory_gb = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory_gb = int(memory.split()[1]) / 1024 / 1024
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("pulumi", "pulumi-policy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memoryGb": round(memory_gb, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        **versions,
    }


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(results: dict[str, list[dict[str, Any]]], dev_seconds: float | None, info: dict[str, Any]) -> str:
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memoryGb']} GB; {info['os']}; Python {info['python']}; "
        f"pulumi {info['pulumi']}, pulumi-policy {info['pulumi-policy']}; load {info['load']}",
    ]
    for dimension, rows in results.items():
        lines += ["", f"{dimension}:"]
        lines.append(
            f"{'size':>6} {'resources':>9} {'plan s':>8} {'stack s':>8} {'policy s':>8} {'plan MB':>8} "
            f"{'base s':>7} {'base MB':>8} {'ratio':>6} {'stack/base':>10} {'MB ratio':>8} {'growth':>7}"
        )
        previous: dict[str, Any] | None = None
        for row in rows:
            plan, base = row["plan"], row.get("baseline")
            growth = f"{plan['seconds'] / previous['plan']['seconds']:.2f}" if previous else ""
            cells = [
                f"{row['size']:>6}",
                f"{plan['resources']:>9}",
                f"{plan['seconds']:>8.2f}",
                f"{plan['phases']['stack']:>8.2f}",
                f"{plan['phases']['policy']:>8.2f}",
                f"{plan['peakMb']:>8.0f}",
            ]
            if base:
                cells += [
                    f"{base['seconds']:>7.2f}",
                    f"{base['peakMb']:>8.0f}",
                    f"{plan['seconds'] / base['seconds']:>6.2f}",
                    f"{plan['phases']['stack'] / base['seconds']:>10.2f}",
                    f"{plan['peakMb'] / base['peakMb']:>8.2f}",
                ]
            else:
                cells += [f"{'':>7}", f"{'':>8}", f"{'':>6}", f"{'':>10}", f"{'':>8}"]
            lines.append(" ".join([*cells, f"{growth:>7}"]))
            previous = row
    lines += ["", "Targets (issue 12):"]
    by_size = {d: {r["size"]: r for r in rows} for d, rows in results.items()}
    at_1000 = by_size.get("workloads", {}).get(1000)
    if at_1000 and at_1000.get("baseline"):
        plan, base = at_1000["plan"], at_1000["baseline"]
        ratio, stack_ratio, memory = (
            plan["seconds"] / base["seconds"],
            plan["phases"]["stack"] / base["seconds"],
            plan["peakMb"] / base["peakMb"],
        )
        lines.append(
            f"  1,000 workloads at most {TARGET_RATIO}x the baseline: {ratio:.2f}x: {_verdict(ratio <= TARGET_RATIO)} "
            f"(the stack alone: {stack_ratio:.2f}x)"
        )
        lines.append(
            f"  1,000 workloads peak memory at most {TARGET_MEMORY_RATIO}x the baseline's: {memory:.2f}x "
            f"({plan['peakMb']:.0f} MB / {base['peakMb']:.0f} MB): {_verdict(memory <= TARGET_MEMORY_RATIO)}"
        )
    for dimension, (small, large, most) in TARGET_GROWTH.items():
        rows_by = by_size.get(dimension, {})
        if small in rows_by and large in rows_by:
            growth = rows_by[large]["plan"]["seconds"] / rows_by[small]["plan"]["seconds"]
            stack = rows_by[large]["plan"]["phases"]["stack"] / rows_by[small]["plan"]["phases"]["stack"]
            lines.append(
                f"  {dimension} {large:,} at most {most}x the time of {small:,}: {growth:.2f}x: "
                f"{_verdict(growth <= most)} (the stack alone: {stack:.2f}x)"
            )
    if dev_seconds is not None:
        lines.append(
            f"  `python -m planner --stack dev` under {TARGET_DEV_SECONDS} s with start-up: {dev_seconds:.2f} s: "
            f"{_verdict(dev_seconds < TARGET_DEV_SECONDS)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plan_scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--dimension", action="append", choices=sorted(DIMENSIONS), help="repeatable; default: all")
    parser.add_argument("--sizes", help="comma-separated sizes (with a single --dimension)")
    parser.add_argument("--no-dev", action="store_true", help="skip timing the dev stack")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *paths = args.child
        if kind == "plan":
            result = child_plan(Path(paths[0]), Path(paths[1]) if len(paths) > 1 else None)
        else:
            result = child_baseline(Path(paths[0]), typed=kind == "typed")
        print(json.dumps(result))
        return 0

    dimensions = args.dimension or list(DIMENSIONS)
    if args.sizes and len(dimensions) != 1:
        parser.error("--sizes needs exactly one --dimension")
    info = machine()
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="plan-scaling-") as temp:
        workdir = Path(temp)
        for dimension in dimensions:
            sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(DEFAULT_SIZES[dimension])
            for size in sizes:
                stack_file = write(dimension, size, workdir)
                registrations = workdir / f"registrations-{dimension}-{size}.pickle"
                print(f"{dimension} {size}: planning ...", file=sys.stderr, flush=True)
                with_baseline = dimension == "workloads"
                plan = run_child("plan", str(stack_file), *([str(registrations)] if with_baseline else []))
                row: dict[str, Any] = {"size": size, "plan": plan}
                if with_baseline:
                    print(f"{dimension} {size}: baselines ...", file=sys.stderr, flush=True)
                    row["baseline"] = run_child("baseline", str(registrations))
                    row["typed"] = run_child("typed", str(registrations))
                results.setdefault(dimension, []).append(row)
    dev_seconds = None if args.no_dev else time_dev_stack()
    print(report(results, dev_seconds, info))
    if args.json:
        document = {"machine": info, "results": results, "devSeconds": dev_seconds}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
