"""The OpenAPI 3.1 document, generated from the declared routes and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from .. import __version__
from ..apis.routes import Route

_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string"},
                "param": {"type": "string"},
            },
        }
    },
}

_ERROR_STATUSES = {
    "400": "Malformed request",
    "404": "Not found",
    "409": "Conflict",
    "422": "Invalid fields",
    "501": "API not configured",
    "502": "Upstream error",
    "504": "Upstream timeout",
}


def build_openapi(routes: list[tuple[str, Route]], title: str = "Llama Stack") -> dict[str, Any]:
    """``routes`` is ``[(tag, route)]``. Every path and alias is documented; aliases are marked deprecated."""
    types: list[Any] = []
    for _, route in routes:
        types.extend(t for t in (route.request, route.response, route.stream) if t is not None)
    inputs = [(i, "serialization", TypeAdapter(t).core_schema) for i, t in enumerate(types)]
    mapping, definitions = GenerateJsonSchema(ref_template=_REF).generate_definitions(inputs)
    schema_of = {id(t): mapping[(i, "serialization")] for i, t in enumerate(types)}

    paths: dict[str, dict[str, Any]] = {}
    seen_ids: set[str] = set()
    for tag, route in routes:
        for path in route.paths:
            operation = _operation(
                tag, route, schema_of, definitions, deprecated=route.deprecated or path != route.path
            )
            op_id = route.name if path == route.path else f"{route.name}_alias_{len(seen_ids)}"
            while op_id in seen_ids:
                op_id += "_"
            seen_ids.add(op_id)
            operation["operationId"] = op_id
            paths.setdefault(_PATH_PARAM.sub(r"{\1}", path), {})[route.method.lower()] = operation
    _loosen_untagged_one_of(definitions)
    definitions["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__, "description": "Llama Stack API served by llama-stack-core."},
        "paths": paths,
        "components": {"schemas": definitions},
    }


def _loosen_untagged_one_of(node: Any) -> None:
    """``oneOf`` without a ``discriminator`` (pydantic's schema of a union told apart by a function, e.g. response
    items with a catch-all ``OtherItem``) as ``anyOf``: the branches may overlap, and the server picks one by
    ``type``, so "exactly one" would declare valid answers invalid."""
    if isinstance(node, dict):
        if "oneOf" in node and "discriminator" not in node:
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _loosen_untagged_one_of(value)
    elif isinstance(node, list):
        for value in node:
            _loosen_untagged_one_of(value)


def _properties(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """The properties of a request model's schema (followed through its ``$ref``), with their constraints."""
    ref = schema.get("$ref")
    if ref is not None:
        schema = definitions[ref.rsplit("/", 1)[1]]
    return schema.get("properties", {})


def _operation(
    tag: str, route: Route, schema_of: dict[int, Any], definitions: dict[str, Any], *, deprecated: bool
) -> dict[str, Any]:
    path_params = set(_PATH_PARAM.findall(route.path))
    operation: dict[str, Any] = {"tags": [tag], "summary": route.summary}
    if deprecated:
        operation["deprecated"] = True
    properties = _properties(schema_of[id(route.request)], definitions) if route.request is not None else {}
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": properties.get(p, {"type": "string"})}
        for p in path_params
    ]
    if route.request is not None:
        if route.method in ("GET", "DELETE"):
            for name, field in route.request.model_fields.items():
                if name not in path_params:
                    parameters.append(
                        {
                            "name": name,
                            "in": "query",
                            "required": field.is_required(),
                            "schema": properties.get(name)
                            or TypeAdapter(field.annotation).json_schema(ref_template=_REF),
                        }
                    )
        else:
            media = "multipart/form-data" if route.body == "multipart" else "application/json"
            required = any(f.is_required() for n, f in route.request.model_fields.items() if n not in path_params)
            operation["requestBody"] = {
                "required": required,
                "content": {media: {"schema": schema_of[id(route.request)]}},
            }
    if parameters:
        operation["parameters"] = parameters
    content: dict[str, Any] = {}
    if route.response is not None:
        content["application/json"] = {"schema": schema_of[id(route.response)]}
    if route.stream is not None:
        content["text/event-stream"] = {"schema": schema_of[id(route.stream)]}
    ok: dict[str, Any] = {"description": "OK"}
    if content:
        ok["content"] = content
    operation["responses"] = {
        "200": ok,
        **{
            status: {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
            }
            for status, text in _ERROR_STATUSES.items()
        },
    }
    return operation
