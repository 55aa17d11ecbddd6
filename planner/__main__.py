"""python -m planner: the offline plan of a stack (no Pulumi CLI, no credentials, no network).

  python -m planner [--stack S | --config-file F] [--format text|json|markdown|html] [--policy-config P]
  python -m planner diff --base REF [--stack S | --config-file F] [--format text|json|markdown]

Exit codes: 0 planned; 1 planned, with a mandatory policy violation; 2 bad config (one line on
stderr, naming the field); diff: 0 access not widened, 3 access widened (a security review is due).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from components.validation import SpecError

from .base_plan import BaseError, load_plan_file, plan_revision
from .diff import diff_markdown, diff_plans, diff_text
from .engine import PROJECT_ROOT
from .html import access_matrix_html
from .markdown import plan_markdown
from .output import OutputError, check_writable
from .plan import STEPS, Plan, build_plan, plan_document
from .policy import PlanError, load_policy_config
from .progress import progress_for
from .render import plan_json, plan_text, write_files
from .stack_file import StackFileError, stack_file

EXIT_OK = 0
EXIT_MANDATORY_VIOLATION = 1
EXIT_BAD_CONFIG = 2
EXIT_ACCESS_WIDENED = 3
PLAN_FORMATS = ("text", "json", "markdown", "html")
DIFF_FORMATS = ("text", "json", "markdown")


def _common(parser: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", default="dev", help="plan Pulumi.<stack>.yaml (default: dev)")
    where.add_argument("--config-file", help="plan this stack file instead")
    parser.add_argument("--format", choices=formats, default="text")
    parser.add_argument(
        "--policy-config",
        type=Path,
        help='rule overrides for the policy pack, JSON or YAML: {"<rule>": "advisory"} or '
        '{"<rule>": {"enforcementLevel": ..., "<setting>": ...}}',
    )
    parser.add_argument("--output", type=Path, help="write the rendered plan to this file instead of stdout")
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="a progress line on stderr (auto: only on a terminal, never in CI or with --format json)",
    )


def parse_plan_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m planner",
        description=__doc__.splitlines()[0],
        epilog="Compare with a git revision or an earlier plan: python -m planner diff --base REF (diff --help). "
        "Exit codes: 0 planned, 1 a mandatory policy violation, 2 bad config; diff: 3 access widened.",
    )
    _common(parser, PLAN_FORMATS)
    parser.add_argument("--out", type=Path, help="also write policies (.hcl) and Kubernetes objects (.yaml) here")
    return parser.parse_args(argv)


def parse_diff_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m planner diff",
        description="Compare the current stack's plan with a git revision of the project or a plan JSON.",
    )
    parser.add_argument("--base", required=True, help="a git revision of the project, or a plan JSON written earlier")
    _common(parser, DIFF_FORMATS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["diff"]:
        return diff_main(parse_diff_args(args_list[1:]))
    return plan_main(parse_plan_args(args_list))


def _error(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)  # always one line
    return EXIT_BAD_CONFIG


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "text": plan_text,
    "json": plan_json,
    "markdown": plan_markdown,
    "html": access_matrix_html,
}


def _plan(args: argparse.Namespace) -> Plan | str:
    """The current stack's plan, or the one-line reason it cannot be planned."""
    try:
        for flag, target, directory in (("--output", args.output, False), ("--out", getattr(args, "out", None), True)):
            if target is not None:
                check_writable(flag, target, directory=directory)
        path = stack_file(args.stack, args.config_file)
        config = load_policy_config(args.policy_config) if args.policy_config else None
        with progress_for(args.progress, sys.stderr, json_output=args.format == "json", steps=STEPS) as progress:
            return build_plan(path, config, progress=progress)
    except SpecError as error:
        return f"{path.name}: {error}"
    except (StackFileError, PlanError, OutputError) as error:
        return str(error)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputError(f"--output {output}: cannot write it: {error.strerror}") from None
    print(f"wrote {output}", file=sys.stderr)


def plan_main(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if isinstance(plan, str):
        return _error(plan)
    document = plan_document(plan)
    try:
        _emit(RENDERERS[args.format](document), args.output)
        if args.out:
            try:
                written = write_files(document, args.out)
            except OSError as error:
                raise OutputError(f"--out {args.out}: cannot write there: {error.strerror}") from None
            print(f"wrote {len(written)} files under {args.out}", file=sys.stderr)
    except OutputError as error:
        return _error(str(error))
    return EXIT_MANDATORY_VIOLATION if plan.mandatory else EXIT_OK


def diff_main(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if isinstance(plan, str):
        return _error(plan)
    head = plan_document(plan)
    base_path = Path(args.base)
    try:
        if base_path.is_file():
            base, base_label = load_plan_file(base_path), str(base_path)
        else:
            base = plan_revision(PROJECT_ROOT, args.base, plan.path, args.policy_config)
            base_label = args.base
    except BaseError as error:
        return _error(f"--base {args.base}: {error}")
    diff = diff_plans(base, head)
    head_label = f"{plan.path.name} (working tree)"
    if args.format == "json":
        text = plan_json({"base": base_label, "head": head_label, **diff})
    elif args.format == "markdown":
        text = diff_markdown(diff, base_label, head_label)
    else:
        text = diff_text(diff, base_label, head_label)
    _emit(text, args.output)
    return EXIT_ACCESS_WIDENED if diff["widened"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
