"""Tool descriptions in both shapes clients use (a JSON-schema ``input_schema``, a flat ``parameters`` list), and
checking a call's arguments against the schema."""

from __future__ import annotations

import logging
from typing import Any

from ..apis.common import ToolParameter
from ..errors import BadRequestError

log = logging.getLogger(__name__)

#: Python-style parameter types some clients send, as JSON-schema types.
_JSON_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}


def parameters_from_schema(schema: dict[str, Any] | None) -> list[ToolParameter]:
    """The flat ``parameters`` list of the 0.2 clients, from an object schema's top-level properties."""
    if not schema:
        return []
    required = set(schema.get("required") or ())
    parameters = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        kind = prop.get("type", "object")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "object")
        parameters.append(
            ToolParameter(
                name=name,
                parameter_type=kind,
                description=prop.get("description") or "",
                required=name in required,
                default=prop.get("default"),
            )
        )
    return parameters


def schema_from_parameters(parameters: list[ToolParameter] | None) -> dict[str, Any]:
    """An object schema from a flat ``parameters`` list."""
    properties: dict[str, Any] = {}
    required = []
    for parameter in parameters or ():
        prop: dict[str, Any] = {"type": _JSON_TYPES.get(parameter.parameter_type, parameter.parameter_type)}
        if parameter.description:
            prop["description"] = parameter.description
        if parameter.default is not None:
            prop["default"] = parameter.default
        properties[parameter.name] = prop
        if parameter.required:
            required.append(parameter.name)
    return {"type": "object", "properties": properties, "required": required}


class ArgumentChecker:
    """Checks a tool's arguments against its input schema (compiled once); a mismatch is a 400 naming the argument."""

    __slots__ = ("_tool", "_validator")

    def __init__(self, tool_name: str, schema: dict[str, Any] | None) -> None:
        self._tool = tool_name
        self._validator = None
        if schema:
            from jsonschema import Draft202012Validator, SchemaError

            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:  # the tool's server checks its own arguments then
                log.warning("tool '%s' has an invalid input schema; arguments go unchecked: %s", tool_name, exc.message)
            else:
                self._validator = Draft202012Validator(schema)

    def check(self, arguments: dict[str, Any]) -> None:
        if self._validator is None:
            return
        error = next(iter(sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.path))), None)
        if error is None:
            return
        name = _argument_named(error, arguments)
        where = f"argument '{name}'" if name else "arguments"
        raise BadRequestError(
            f"tool '{self._tool}': {where}: {error.message}", param=f"kwargs.{name}" if name else "kwargs"
        )


def _argument_named(error: Any, arguments: dict[str, Any]) -> str | None:
    """The top-level argument a schema error is about: its path, or the property a ``required`` /
    ``additionalProperties`` check names."""
    if error.path:
        return str(error.path[0])
    if error.validator == "required":
        return next((name for name in error.validator_value if name not in arguments), None)
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties") or ())
        return next((name for name in arguments if name not in allowed), None)
    return None
