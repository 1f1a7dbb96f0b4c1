"""samconfig.toml as data for `make deploy`: an environment's region and its merged parameter overrides.

`sam deploy --parameter-overrides ...` replaces the environment's parameter_overrides instead of adding to
them, so the Makefile asks this module for the environment's list with the deploy-time values merged in.

    python -m scripts.samconfig --config-env prod region
    python -m scripts.samconfig --config-env prod stack-name
    python -m scripts.samconfig --config-env prod overrides ModelDataUrl=s3://b/k ExistingEndpointName=
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMCONFIG_PATH = PROJECT_ROOT / "samconfig.toml"
DEFAULT_ENVIRONMENT = "default"

# The "Key=value" form sam accepts: a value is double-quoted, single-quoted or runs to the next space.
_OVERRIDE_RE = re.compile(r"""([A-Za-z0-9]+)=("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|(?:\\.|[^ "'\\])+)""")


class SamConfigError(ValueError):
    """samconfig.toml lacks the environment or setting asked for."""


def command_parameters(environment: str, command: str, path: Path = SAMCONFIG_PATH) -> dict[str, Any]:
    """One command's settings for an environment, as sam resolves them: global, then the command's own."""
    with path.open("rb") as handle:
        config = tomllib.load(handle)
    if environment not in config:
        known = ", ".join(name for name in config if name != "version")
        raise SamConfigError(f"{path.name} has no environment {environment!r} (it has: {known})")
    sections = config[environment]
    merged: dict[str, Any] = dict(sections.get("global", {}).get("parameters", {}))
    merged.update(sections.get(command, {}).get("parameters", {}))
    return merged


def parse_overrides(value: str | Sequence[str]) -> dict[str, str]:
    """parameter_overrides as written in samconfig.toml (one string or a list of them) -> name: value."""
    texts = [value] if isinstance(value, str) else list(value)
    parsed: dict[str, str] = {}
    for text in texts:
        for key, raw in _OVERRIDE_RE.findall(text):
            parsed[key] = _unquote(raw)
    return parsed


def format_override(key: str, value: str) -> str:
    """One `Key=value` argument that sam parses back to exactly `value` (empty and spaced values quoted)."""
    if value and not re.search(r"""[\s"'\\]""", value):
        return f"{key}={value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{key}="{escaped}"'


def merged_overrides(environment: str, extra: dict[str, str], path: Path = SAMCONFIG_PATH) -> list[str]:
    """The environment's deploy parameter overrides with `extra` added (extra wins), one argument each."""
    configured = command_parameters(environment, "deploy", path).get("parameter_overrides", "")
    merged = parse_overrides(configured)
    merged.update(extra)
    return [format_override(key, value) for key, value in merged.items()]


def region(environment: str, path: Path = SAMCONFIG_PATH) -> str:
    configured = command_parameters(environment, "deploy", path).get("region")
    if not configured:
        raise SamConfigError(f"{path.name} sets no region for environment {environment!r}")
    return str(configured)


def stack_name(environment: str, path: Path = SAMCONFIG_PATH) -> str:
    configured = command_parameters(environment, "deploy", path).get("stack_name")
    if not configured:
        raise SamConfigError(f"{path.name} sets no stack_name for environment {environment!r}")
    return str(configured)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        raw = raw[1:-1]
    return re.sub(r"\\(.)", r"\1", raw)


def _key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not re.fullmatch(r"[A-Za-z0-9]+", key):
        raise argparse.ArgumentTypeError(f"expected Name=value, got {text!r}")
    return key, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.samconfig", description="Read settings of one samconfig.toml environment."
    )
    parser.add_argument(
        "--config-env", default=DEFAULT_ENVIRONMENT, help="samconfig environment (default: %(default)s)"
    )
    parser.add_argument("--config-file", type=Path, default=SAMCONFIG_PATH)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("region", help="print the environment's region")
    commands.add_parser("stack-name", help="print the environment's stack name")
    overrides = commands.add_parser("overrides", help="print the merged parameter overrides, one per line")
    overrides.add_argument("extra", nargs="*", type=_key_value, metavar="Name=value")
    args = parser.parse_args(argv)
    try:
        if args.command == "region":
            print(region(args.config_env, args.config_file))
        elif args.command == "stack-name":
            print(stack_name(args.config_env, args.config_file))
        else:
            print("\n".join(merged_overrides(args.config_env, dict(args.extra), args.config_file)))
    except SamConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
