"""Reads a `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to the program, without decrypting.

Every problem with the file itself (missing, not UTF-8, not YAML, empty, a ``secure:`` value
where no secret belongs) is a ``StackFileError`` whose message is one line naming the file;
the keys are checked by the stack's own edge (``components.spec.check_config_keys``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.args import SecretsPlatformArgs
from components.spec import camel, check_config_keys, secret_fields, snake, snake_keys
from policies.values import load_yaml

from .engine import MASK, PROJECT_ROOT, project_name

ENGINE_CONFIG_LIMIT = 131_072
"""The longest environment string Linux's execve accepts (MAX_ARG_STRLEN, 32 pages), ``NAME=`` and the final NUL
included. The engine hands a Python program, and a policy pack, the whole stack config in one variable,
``PULUMI_CONFIG`` (pulumi/pulumi#20402): a longer config makes ``pulumi up`` and ``preview`` fail with
``fork/exec ...: argument list too long`` before the program starts."""


class StackFileError(Exception):
    """The stack file cannot be read as a stack; the message is one line naming the file."""


def stacks(root: Path = PROJECT_ROOT) -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.?*.yaml"))


def stack_file(stack: str | None, config_file: str | None, root: Path = PROJECT_ROOT) -> Path:
    """The file to plan: ``--config-file`` as given, else ``Pulumi.<stack>.yaml`` of the project."""
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise StackFileError(f"--config-file {config_file}: no such file")
        return path
    path = root / f"Pulumi.{stack or 'dev'}.yaml"
    if not path.is_file():
        known = ", ".join(stacks(root)) or "none"
        raise StackFileError(
            f"--stack {stack}: no {path.name} in {root}; the stacks here: {known} (or plan a file with --config-file)"
        )
    return path


def load_stack_config(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The stack's config map and its secret keys (a ``secure:`` value anywhere inside; masked, never decrypted)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise StackFileError(f"{path.name}: cannot be read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise StackFileError(
            f"{path.name}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}): "
            "save the stack file as UTF-8"
        ) from None
    try:
        document = load_yaml(text)
    except yaml.MarkedYAMLError as error:
        raise StackFileError(f"{path.name}: {_yaml_problem(error)}") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path.name}: invalid YAML: {error}") from None
    if document is None:
        raise StackFileError(f"{path.name}: the file is empty: a stack file holds a `config:` mapping")
    if not isinstance(document, dict):
        raise StackFileError(f"{path.name}: a YAML {type(document).__name__}, not a mapping with a `config:` key")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: `config:` is a {type(config).__name__}, not a mapping of keys to values")
    project = project_name()
    check_config_keys(config, project)
    for key, value in config.items():
        if key.startswith(f"{project}:"):
            _check_secure_places(path, key, value)
    secret_keys = [k for k, v in config.items() if _secure_places(v, k)]
    return {k: _mask_secure(v) for k, v in config.items()}, secret_keys


def _go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes it: compact, UTF-8, ``<``, ``>``, ``&`` and U+2028/9 escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def engine_config_bytes(config: Mapping[str, Any]) -> int:
    """The length of ``PULUMI_CONFIG=<config>`` as the engine sets it, its NUL included: a map of each key to its
    value's text (a structured value as its JSON), in Go's encoding."""
    strings = {k: v if isinstance(v, str) else _go_json(v) for k, v in config.items()}
    return len("PULUMI_CONFIG=") + len(_go_json(strings).encode()) + 1


def check_engine_config_size(path: Path, config: Mapping[str, Any]) -> None:
    """Refuse a config the engine cannot hand to the program (see ``ENGINE_CONFIG_LIMIT``)."""
    size = engine_config_bytes(config)
    if size > ENGINE_CONFIG_LIMIT:
        raise StackFileError(
            f"{path.name}: the config is {size:,} bytes as the engine passes it to the program, in one environment "
            f"variable (PULUMI_CONFIG), and Linux allows at most {ENGINE_CONFIG_LIMIT:,}: `pulumi up` would fail "
            "with `argument list too long` (pulumi/pulumi#20402). Split the platform into several stacks, or "
            "compose SecretsPlatform in a program of your own that reads the workloads from a file"
        )


def _yaml_problem(error: yaml.MarkedYAMLError) -> str:
    """``line 4, column 1: invalid YAML: <the parser's reason> (<what it was parsing>, from line 3, column 14)``."""
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context = ""
    if error.context:
        start = error.context_mark
        since = f", from line {start.line + 1}, column {start.column + 1}" if start is not None else ""
        context = f" ({error.context}{since})"
    return f"{where}invalid YAML: {error.problem}{context}"


def _check_secure_places(path: Path, key: str, value: Any) -> None:
    """A ``secure:`` value only where the schema holds a secret: the planner never decrypts one to check it."""
    name = key.partition(":")[2]
    if _is_secure(value):
        raise StackFileError(
            f"{path.name}: {key} is encrypted as a whole: set only its secret fields with "
            f"`pulumi config set --secret --path '{name}.<field>'` (the rest is read, never decrypted)"
        )
    annotation = SecretsPlatformArgs.__annotations__.get(snake(name))
    if annotation is None:
        return
    allowed = {field for field, _, _ in secret_fields(annotation, snake_keys(_mask_secure(value)), name)}
    for field in _secure_places(value, name):
        if field not in allowed:
            raise StackFileError(
                f"{path.name}: {field}: a secure: value is not allowed here: only "
                "databases[].password is a secret (names, paths, addresses and CA certificates are not)"
            )


def _secure_places(value: Any, field: str) -> list[str]:
    if _is_secure(value):
        return [field]
    if isinstance(value, dict):
        return [p for k, x in value.items() for p in _secure_places(x, f"{field}.{camel(snake(str(k)))}")]
    if isinstance(value, list):
        return [p for i, x in enumerate(value) for p in _secure_places(x, f"{field}[{i}]")]
    return []


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _mask_secure(value: Any) -> Any:
    if _is_secure(value):
        return MASK
    if isinstance(value, dict):
        return {k: _mask_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secure(v) for v in value]
    return value
