"""CloudFormation intrinsic functions, resolved against the emulator's local names.

The emulator never hard-codes what the template says: a function's environment, a queue's redrive policy or
the bucket's notification target are read from template.yaml and resolved here. A reference the emulator does
not know fails loudly with the resource's name, because it means the template grew something the emulator
does not emulate yet.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"


_SECRET_REFERENCE = re.compile(r"\{\{resolve:secretsmanager:(.+?)(?::SecretString(?::[^}]*)?)?\}\}")


class UnresolvedReferenceError(LookupError):
    """The template refers to something the local emulator cannot stand in for."""


@dataclass
class LocalNames:
    """What each logical id of the template is called locally, and the values of Ref/GetAtt on it."""

    stack_name: str
    region: str
    parameters: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)  # logical id -> value of Ref
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)  # (logical id, attribute) -> value
    secrets: dict[str, str] = field(default_factory=dict)  # secret ARN -> its generated value

    def secret_value(self, secret_id: str) -> str:
        """A secret's value, generated on first use, as GenerateSecretString does (one per emulator run)."""
        if secret_id not in self.refs.values():
            raise UnresolvedReferenceError(f"{{{{resolve:secretsmanager:{secret_id}}}}}: no such secret")
        return self.secrets.setdefault(secret_id, secrets.token_urlsafe(48))

    @property
    def pseudo_parameters(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{self.stack_name}/"
                "00000000-0000-4000-8000-000000000000"
            ),
            "AWS::NoValue": "",
        }


def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Every template parameter at its Default unless overridden (like `sam deploy --parameter-overrides`)."""
    values: dict[str, str] = {}
    for name, definition in template.get("Parameters", {}).items():
        if "Default" in definition:
            values[name] = str(definition["Default"])
    for name, value in (overrides or {}).items():
        if name not in template.get("Parameters", {}):
            raise UnresolvedReferenceError(f"parameter override {name!r} is not a parameter of the template")
        values[name] = str(value)
    return values


class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::If (on the template's Conditions), Fn::Sub, Fn::Join, Fn::Select..."""

    def __init__(self, template: dict[str, Any], names: LocalNames) -> None:
        self._template = template
        self._names = names

    def resolve(self, value: Any, where: str = "template") -> Any:
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(str(argument), where)
            if key.startswith("Fn::"):
                return self._function(key, argument, where)
        return {key: self.resolve(item, where) for key, item in value.items()}

    def resolve_str(self, value: Any, where: str) -> str:
        resolved = self.resolve(value, where)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, (dict, list)):
            raise UnresolvedReferenceError(f"{where}: expected a string, got {json.dumps(resolved)[:200]}")
        # Dynamic references, which CloudFormation resolves when it deploys: Secrets Manager's only.
        return _SECRET_REFERENCE.sub(lambda found: self._names.secret_value(found.group(1)), str(resolved))

    def condition(self, name: str, where: str) -> bool:
        conditions = self._template.get("Conditions", {})
        if name not in conditions:
            raise UnresolvedReferenceError(f"{where}: condition {name!r} is not defined in the template")
        return bool(self._evaluate_condition(conditions[name], where))

    def exists(self, resource: dict[str, Any], logical_id: str) -> bool:
        """Whether the stack creates this resource: it has no Condition, or its Condition holds."""
        condition = resource.get("Condition")
        return condition is None or self.condition(str(condition), logical_id)

    # ------------------------------------------------------------------------------------------------------
    def _ref(self, name: str, where: str) -> str:
        if name in self._names.parameters:
            return self._names.parameters[name]
        pseudo = self._names.pseudo_parameters
        if name in pseudo:
            return pseudo[name]
        if name in self._names.refs:
            return self._names.refs[name]
        raise UnresolvedReferenceError(
            f"{where}: !Ref {name} cannot be resolved locally: the emulator does not create {name!r} "
            f"({self._resource_type(name)}); teach local/stack.py about it"
        )

    def _get_att(self, name: str, attribute: str, where: str) -> str:
        if (name, attribute) in self._names.attributes:
            return self._names.attributes[(name, attribute)]
        raise UnresolvedReferenceError(
            f"{where}: !GetAtt {name}.{attribute} cannot be resolved locally: the emulator does not provide "
            f"{attribute!r} of {name!r} ({self._resource_type(name)}); teach local/stack.py about it"
        )

    def _resource_type(self, name: str) -> str:
        resource = self._template.get("Resources", {}).get(name)
        return str(resource["Type"]) if resource else "not in the template"

    def _function(self, key: str, argument: Any, where: str) -> Any:  # noqa: PLR0911 - one branch per function
        if key == "Fn::GetAtt":
            name, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return self._get_att(str(name), str(attribute), where)
        if key == "Fn::If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self.condition(condition, where) else if_false, where)
        if key == "Fn::Sub":
            return self._sub(argument, where)
        if key == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(self.resolve_str(item, where) for item in self.resolve(items, where))
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items, where)[int(self.resolve(index, where))]
        if key == "Fn::Split":
            delimiter, text = argument
            return self.resolve_str(text, where).split(str(delimiter))
        if key == "Fn::FindInMap":
            mapping, top, second = (self.resolve_str(part, where) for part in argument)
            return self._template["Mappings"][mapping][top][second]
        if key in {"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"}:
            return self._evaluate_condition({key: argument}, where)
        raise UnresolvedReferenceError(f"{where}: {key} is not supported by the local emulator")

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v, where) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is the escape for a literal ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self._get_att(resource, attribute, where)
            return self._ref(name, where)

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))

    def _evaluate_condition(self, expression: Any, where: str) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, argument),) = expression.items()
            if key == "Fn::Equals":
                left, right = (self.resolve_str(part, where) for part in argument)
                return left == right
            if key == "Fn::Not":
                return not self._evaluate_condition(argument[0], where)
            if key == "Fn::And":
                return all(self._evaluate_condition(part, where) for part in argument)
            if key == "Fn::Or":
                return any(self._evaluate_condition(part, where) for part in argument)
            if key == "Ref":  # a condition name referenced from inside another condition (!Condition X)
                return self.condition(str(argument), where)
            if key == "Condition":
                return self.condition(str(argument), where)
        raise UnresolvedReferenceError(f"{where}: cannot evaluate condition {json.dumps(expression)[:200]}")
