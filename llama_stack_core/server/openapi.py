"""The OpenAPI 3.1 document, generated from the declared routes and their pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

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

#: The integers the server's JSON parser reads as integers (orjson: 64 bits); it reads a longer one as a float, which
#: an integer field refuses, so the document bounds every integer that has no tighter bound.
INTEGER_RANGE = (-(2**63), 2**64 - 1)


class DocumentSchema(GenerateJsonSchema):
    """Pydantic's JSON schemas, with integers bounded as the server reads them (:data:`INTEGER_RANGE`)."""

    def int_schema(self, schema: Any) -> dict[str, Any]:
        json_schema = super().int_schema(schema)
        if "minimum" not in json_schema and "exclusiveMinimum" not in json_schema:
            json_schema["minimum"] = INTEGER_RANGE[0]
        if "maximum" not in json_schema and "exclusiveMaximum" not in json_schema:
            json_schema["maximum"] = INTEGER_RANGE[1]
        return json_schema


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
    types: list[tuple[Any, JsonSchemaMode]] = []
    for _, route in routes:
        if route.request is not None:  # what the server validates
            types.append((route.request, "validation"))
        types.extend((t, "serialization") for t in (route.response, route.stream) if t is not None)
    inputs = [(i, mode, TypeAdapter(t).core_schema) for i, (t, mode) in enumerate(types)]
    mapping, definitions = DocumentSchema(ref_template=_REF).generate_definitions(inputs)
    schema_of = {id(t): mapping[(i, mode)] for i, (t, mode) in enumerate(types)}

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
    _refine_unions(definitions)
    definitions["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__, "description": "Llama Stack API served by llama-stack-core."},
        "paths": paths,
        "components": {"schemas": definitions},
    }


def _refine_unions(node: Any) -> None:
    """Unions as the server tells their members apart.

    - ``oneOf`` with a ``discriminator``: each member requires the tag. A member's tag field has a default (``type:
      Literal["text"] = "text"``), so its own schema leaves it optional, but a tagged union cannot pick a member
      without it (pydantic: "Unable to extract tag").
    - ``oneOf`` without one (a union told apart by a function, e.g. response items with a catch-all ``OtherItem``) as
      ``anyOf``: the branches may overlap, and the server picks one by ``type``, so "exactly one" would declare valid
      answers invalid.
    """
    if isinstance(node, dict):
        if "oneOf" in node:
            discriminator = node.get("discriminator")
            if discriminator is None:
                node["anyOf"] = node.pop("oneOf")
            else:
                tag = discriminator["propertyName"]
                for member in node["oneOf"]:
                    member["required"] = sorted({*member.get("required", ()), tag})
        for value in node.values():
            _refine_unions(value)
    elif isinstance(node, list):
        for value in node:
            _refine_unions(value)


def _sse_event(chunk: dict[str, Any]) -> dict[str, Any]:
    """One server-sent event of a stream: its ``data`` is a chunk as JSON, or the error event that ends a stream
    failing after its first byte (OpenAPI 3.1 has no ``itemSchema``: the event's schema, ``data`` as JSON content)."""
    data = {"anyOf": [chunk, {"$ref": _REF.format(model="Error")}]}
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
            "event": {"type": "string"},
            "id": {"type": "string"},
            "retry": {"type": "integer"},
        },
    }


def _properties(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """The properties of a request model's schema (followed through its ``$ref``), with their constraints."""
    ref = schema.get("$ref")
    if ref is not None:
        schema = definitions[ref.rsplit("/", 1)[1]]
    return schema.get("properties", {})


def _unbounded(schema: Any) -> Any:
    """``schema`` without the bounds :class:`DocumentSchema` gives integers (a copy; ``$ref`` not followed)."""
    if isinstance(schema, list):
        return [_unbounded(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: _unbounded(value) for key, value in schema.items()}
    if copy.get("type") == "integer":
        if copy.get("minimum") == INTEGER_RANGE[0]:
            del copy["minimum"]
        if copy.get("maximum") == INTEGER_RANGE[1]:
            del copy["maximum"]
    return copy


def _is_object(schema: dict[str, Any], definitions: dict[str, Any]) -> bool:
    """Whether a parameter's schema (or a branch of its union, followed through ``$ref``) is an object."""
    ref = schema.get("$ref")
    if ref is not None:
        return _is_object(definitions[ref.rsplit("/", 1)[1]], definitions)
    if schema.get("type") == "object":
        return True
    return any(_is_object(branch, definitions) for branch in schema.get("anyOf", ()))


def _flat(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """An object parameter as the query carries it: one level of ``name[key]=text`` (no nested values)."""
    if "anyOf" in schema:
        return {**schema, "anyOf": [_flat(branch, definitions) for branch in schema["anyOf"]]}
    if _is_object(schema, definitions):
        return {"type": "object", "allOf": [schema], "additionalProperties": {"type": "string"}}
    return schema


def _without_path_params(schema: dict[str, Any], path_params: set[str], definitions: dict[str, Any]) -> dict[str, Any]:
    """A request model's schema as the body of a route whose path gives some of its fields: those are not required
    in the body, and ignored if sent (the path's value wins)."""
    ref = schema.get("$ref")
    model = definitions[ref.rsplit("/", 1)[1]] if ref is not None else schema
    ignored = {"description": "Ignored: the path gives it."}
    body = {**model, "properties": {n: ignored if n in path_params else p for n, p in model["properties"].items()}}
    required = [n for n in model.get("required", ()) if n not in path_params]
    if required:
        body["required"] = required
    else:
        body.pop("required", None)
    return body


def _operation(
    tag: str, route: Route, schema_of: dict[int, Any], definitions: dict[str, Any], *, deprecated: bool
) -> dict[str, Any]:
    path_params = set(_PATH_PARAM.findall(route.path))
    operation: dict[str, Any] = {"tags": [tag], "summary": route.summary}
    if deprecated:
        operation["deprecated"] = True
    properties = _properties(schema_of[id(route.request)], definitions) if route.request is not None else {}
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": _unbounded(properties.get(p, {"type": "string"}))}
        for p in path_params
    ]
    if route.request is not None:
        if route.method in ("GET", "DELETE"):
            for name, field in route.request.model_fields.items():
                if name not in path_params:
                    schema = properties.get(name) or TypeAdapter(field.annotation).json_schema(
                        ref_template=_REF, schema_generator=DocumentSchema
                    )
                    schema = _unbounded(schema)  # a query's (and a path's) integers are read from text, at any length
                    parameter = {"name": name, "in": "query", "required": field.is_required(), "schema": schema}
                    if _is_object(schema, definitions):  # mcp_endpoint[uri]=..., as the SDKs send it
                        parameter.update(style="deepObject", explode=True, schema=_flat(schema, definitions))
                    parameters.append(parameter)
        else:
            media = "multipart/form-data" if route.body == "multipart" else "application/json"
            required = any(f.is_required() for n, f in route.request.model_fields.items() if n not in path_params)
            body = schema_of[id(route.request)]
            if path_params & properties.keys():
                body = _without_path_params(body, path_params, definitions)
            operation["requestBody"] = {"required": required, "content": {media: {"schema": body}}}
    if parameters:
        operation["parameters"] = parameters
    content: dict[str, Any] = {}
    if route.response is not None:
        content["application/json"] = {"schema": schema_of[id(route.response)]}
    if route.stream is not None:
        content["text/event-stream"] = {"schema": _sse_event(schema_of[id(route.stream)])}
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
