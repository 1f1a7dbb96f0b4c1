"""template.yaml as data: the one place that says which resources exist, read by the emulator and the tests.

CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...) are loaded as their long form ({"Ref": ...}),
so callers can resolve them against local names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

_TAGS = [
    "Ref",
    "Condition",
    "GetAtt",
    "Sub",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Base64",
    "Cidr",
    "Transform",
]


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that knows CloudFormation's short-form intrinsic functions."""


def _construct(tag: str) -> Any:
    name = "Ref" if tag in {"Ref", "Condition"} else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag in _TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


@lru_cache(maxsize=4)
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        # S506: _CfnLoader is a SafeLoader that only adds CloudFormation's short-form tags.
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506
    return document


def resources_of_type(
    resource_type: str, template: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one CloudFormation type."""
    document = template or load_template()
    return {
        logical_id: resource
        for logical_id, resource in document["Resources"].items()
        if resource["Type"] == resource_type
    }


def table_definition(
    logical_id: str = "ReviewsTable", template: dict[str, Any] | None = None
) -> dict[str, Any]:
    """create_table keyword arguments for a DynamoDB table, exactly as the template declares its schema."""
    properties = (template or load_template())["Resources"][logical_id]["Properties"]
    definition: dict[str, Any] = {
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in properties:
        definition["GlobalSecondaryIndexes"] = [
            {"IndexName": gsi["IndexName"], "KeySchema": gsi["KeySchema"], "Projection": gsi["Projection"]}
            for gsi in properties["GlobalSecondaryIndexes"]
        ]
    return definition
