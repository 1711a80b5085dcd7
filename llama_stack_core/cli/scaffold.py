"""``stack new-provider``: write a provider package skeleton that installs, registers and passes its own tests.

The files come from the ``string.Template`` files in ``templates/provider/`` (package data), filled in from the
installed core: the hook name, the API's provider Protocol (one method stub per operation), the resource type the API
owns and the core's version range.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from .. import PROVIDER_API_VERSION, __version__
from ..errors import ConfigError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")

_API_CLASS_NAMES = {"vector_io": "VectorIO", "datasetio": "DatasetIO", "tool_runtime": "ToolRuntime"}

#: A valid register body for each resource type (``{name}`` is the provider name).
_REGISTER_BODIES: dict[str, dict[str, Any]] = {
    "model": {"model_id": "{name}-model", "provider_model_id": "{name}-small"},
    "shield": {"shield_id": "{name}-shield"},
    "tool_group": {"toolgroup_id": "{name}-tools"},
    "dataset": {
        "dataset_id": "{name}-data",
        "purpose": "eval/question-answer",
        "source": {"type": "rows", "rows": [{"question": "1+1", "answer": "2"}]},
    },
    "vector_db": {"vector_db_id": "{name}-vectors", "embedding_model": "test-embedding"},
    "scoring_function": {"scoring_fn_id": "{name}-fn", "description": "exact match", "return_type": {"type": "number"}},
    "benchmark": {"benchmark_id": "{name}-bench", "dataset_id": "test-data", "scoring_functions": ["test-fn"]},
}

#: Resources the registration above refers to, registered from the run config on stub providers of their API.
_SUPPORTING_RESOURCES: dict[str, dict[str, list[dict[str, Any]]]] = {
    "vector_db": {
        "models": [{"model_id": "test-embedding", "model_type": "embedding", "metadata": {"embedding_dimension": 8}}]
    },
    "benchmark": {
        "datasets": [
            {
                "dataset_id": "test-data",
                "purpose": "eval/question-answer",
                "source": {"type": "rows", "rows": [{"question": "1+1", "answer": "2"}]},
            }
        ],
        "scoring_fns": [{"scoring_fn_id": "test-fn", "return_type": {"type": "number"}}],
    },
}

#: One call per API that reaches the provider: (HTTP method, path, httpx keyword arguments). ``@ID@`` is replaced
#: by the id of the registered resource.
_SAMPLE_CALLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "safety": (
        "POST",
        "/v1/safety/run-shield",
        {"json": {"shield_id": "@ID@", "messages": [{"role": "user", "content": "hello"}]}},
    ),
    "responses": ("GET", "/v1/responses", {}),
    "conversations": ("GET", "/v1/conversations/conv_1", {}),
    "agents": ("GET", "/v1alpha/agents", {}),
    "tool_runtime": ("GET", "/v1/tool-runtime/list-tools", {"params": {"tool_group_id": "@ID@"}}),
    "vector_io": ("POST", "/v1/vector-io/query", {"json": {"vector_db_id": "@ID@", "query": "hello"}}),
    "files": ("GET", "/v1/files", {}),
    "datasetio": ("GET", "/v1beta/datasetio/iterrows/@ID@", {}),
    "scoring": (
        "POST",
        "/v1/scoring/score",
        {
            "json": {
                "input_rows": [{"input_query": "1+1", "generated_answer": "2", "expected_answer": "2"}],
                "scoring_functions": {"@ID@": None},
            }
        },
    ),
    "eval": ("GET", "/v1alpha/eval/benchmarks/@ID@/jobs/job-1", {}),
    "telemetry": ("POST", "/v1/telemetry/traces", {"json": {}}),
    "batches": ("GET", "/v1/batches", {}),
}


# -- templates: templates/provider/*.tmpl, shipped as package data -----------------------------------------------

TEMPLATES = resources.files(__package__).joinpath("templates", "provider")


@cache
def _template(path: str) -> Template:
    """``templates/provider/<path>.tmpl``, e.g. ``src/plugin.py`` for the entry point module's template."""
    return Template(TEMPLATES.joinpath(*f"{path}.tmpl".split("/")).read_text(encoding="utf-8"))


def _render(path: str, mapping: Mapping[str, Any] | None = None, /, **values: Any) -> str:
    """Fill a template's ``$name`` placeholders from ``mapping`` and ``values`` (a missing one is an error)."""
    return _template(path).substitute(mapping or {}, **values)


# -- building the files ------------------------------------------------------------------------------------------


def _class_prefix(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _core_range() -> str:
    """A compatible range of core releases: the current minor for 0.x, the current major from 1.0 on."""
    parts = [int(p) for p in re.findall(r"\d+", __version__)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    if major == 0:
        return f">=0.{minor},<0.{minor + 1}"
    return f">={major}.{minor},<{major + 1}"


def _core_api_range() -> str:
    major = int(PROVIDER_API_VERSION.split(".")[0])
    return f">={major}.0,<{major + 1}"


def _yaml_lines(config: dict[str, Any], indent: int) -> str:
    import yaml

    text = yaml.safe_dump(config, sort_keys=False).strip() if config else "{}"
    return "\n".join(" " * indent + line for line in text.splitlines())


def _fill(value: Any, name: str, identifier: str = "") -> Any:
    if isinstance(value, str):
        return value.replace("{name}", name).replace("@ID@", identifier)
    if isinstance(value, dict):
        return {_fill(k, name, identifier): _fill(v, name, identifier) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_fill(v, name, identifier) for v in value)
    return value


def _py(value: Any) -> str:
    """A Python literal for JSON-like data, in double quotes."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _py_block(value: Any, indent: int = 0, lead: int = 0) -> str:
    """``_py(value)``, broken over lines (items indented) where it would not fit in 116 columns after ``lead``."""
    text = _py(value)
    if len(text) + max(indent, lead) <= 116 or not isinstance(value, (dict, list, tuple)) or not value:
        return text
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{_py(k)}: {_py_block(v, indent + 4, indent + 6 + len(_py(k)))},\n" for k, v in value.items()]
        return "{\n" + "".join(items) + " " * indent + "}"
    return "[\n" + "".join(f"{pad}{_py_block(v, indent + 4)},\n" for v in value) + " " * indent + "]"


def _annotation(value: Any) -> str:
    if value is inspect.Signature.empty:
        return "Any"
    return value if isinstance(value, str) else inspect.formatannotation(value)


def _type_imports(annotations: list[str], module: Any) -> dict[str, set[str]]:
    """``{module: {names}}`` to import (under TYPE_CHECKING) for the names used in these annotation strings."""
    imports: dict[str, set[str]] = {}
    for text in annotations:
        for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
            obj = getattr(module, token, None)
            if obj is None or token in ("Any", "None"):
                continue
            home = getattr(obj, "__module__", None) or module.__name__
            home_module = sys.modules.get(home)
            if home_module is None or getattr(home_module, token, None) is not obj:
                home = module.__name__
            imports.setdefault(home, set()).add(token)
    return imports


def _format_imports(imports: dict[str, set[str]], indent: str) -> str:
    lines = []
    for module, names in sorted(imports.items()):
        line = f"{indent}from {module} import {', '.join(sorted(names))}"
        if len(line) > 116:
            inner = "".join(f"{indent}    {name},\n" for name in sorted(names))
            line = f"{indent}from {module} import (\n{inner}{indent})"
        lines.append(line)
    return "\n".join(lines)


def _signature(name: str, params: str, returns: str) -> str:
    line = f"    async def {name}(self, {params}) -> {returns}:"
    if len(line) <= 120:
        return line
    return f"    async def {name}(\n        self, {params}\n    ) -> {returns}:"


def _generic_provider(ctx: dict[str, Any], api: Any, kind: Any, remote: bool) -> str:
    from ..apis import api_spec

    spec = api_spec(api)
    protocol = spec.protocol
    module = importlib.import_module(protocol.__module__)
    routes = {route.name: route for route in spec.routes if route.handler is None}
    methods, annotations = [], []
    for method_name, function in protocol.__dict__.items():
        if method_name.startswith("_") or not callable(function):
            continue
        signature = inspect.signature(function)
        params = []
        for parameter in list(signature.parameters.values())[1:]:
            annotation = _annotation(parameter.annotation)
            annotations.append(annotation)
            params.append(f"{parameter.name}: {annotation}")
        returns = _annotation(signature.return_annotation)
        annotations.append(returns)
        route = routes.get(method_name)
        methods.append(
            _render(
                "src/parts/method.py",
                signature=_signature(method_name, ", ".join(params), returns),
                route=f"{route.method} {route.path}" if route else method_name,
                summary=(route.summary if route and route.summary else f"The {method_name} operation."),
                name=ctx["name"],
                method=method_name,
            )
        )
    imports = _type_imports(annotations, module)
    imports.setdefault("llama_stack_core.apis.routes", set()).add("Api")
    if kind is not None:
        imports.setdefault("llama_stack_core.apis.resources", set()).add(kind.model.__name__)
    extra_imports = "\nfrom llama_stack_core.request_context import provider_data\n" if remote else ""
    return _render(
        "src/provider_generic.py",
        ctx,
        extra_imports=extra_imports,
        type_imports=_format_imports(imports, "    ") + "\n",
        api_cls=_API_CLASS_NAMES.get(api.value, api.value.capitalize()),
        protocol=f"{protocol.__module__}.{protocol.__name__}",
        state=(f"        self.{kind.plural}: dict[str, {kind.model.__name__}] = {{}}\n" if kind else ""),
        credentials=_render("src/parts/api_key.py", ctx) if remote else "",
        resource_hooks=(
            _render("src/parts/resource_hooks.py", rtype=kind.type, rmodel=kind.model.__name__, plural=kind.plural)
            if kind
            else ""
        ),
        methods="".join(methods),
    )


def _test_file(ctx: dict[str, Any], api: Any, kind: Any, remote: bool) -> str:
    from ..apis import api_spec
    from ..apis.resources import RESOURCE_KINDS
    from ..server.core_routes import RESOURCE_PATHS

    name = ctx["name"]
    provider_config: dict[str, Any] = {}
    if remote:
        provider_config = {"url": "http://127.0.0.1:9/v1", "api_key": "sk-test-not-a-real-key"}
    elif api.value == "inference":
        provider_config = {"reply_prefix": name}
    supporting = _fill(_SUPPORTING_RESOURCES.get(kind.type, {}) if kind else {}, name)
    stub_apis = sorted({RESOURCE_KINDS[kind_type].api.value for _, kind_type in (kind.references if kind else ())})
    if stub_apis:
        stubs = _render(
            "tests/stubs.py",
            hooks="".join(_render("tests/stub_hook.py", api=a) for a in stub_apis),
            providers="".join(
                f'    "{a}": [{{"provider_id": "stub-{a}", "provider_type": "inline::test-stub", "config": {{}}}}],\n'
                for a in stub_apis
            ),
            resources=_py_block(supporting, 0, 56),
        )
    else:
        stubs = _render("tests/no_stubs.py")
    third_party = ["import pytest", *(["from pydantic import BaseModel"] if stub_apis else [])]
    core = [
        "from llama_stack_core.plugins import PluginManager",
        "from llama_stack_core.testing import make_run_config, stack_client",
        "from llama_stack_core.testing.lifecycle import PROVIDER_ID" + (", ResourceLifecycleTests" if kind else ""),
    ]
    if stub_apis:
        core += [
            "from llama_stack_core.apis.routes import Api",
            "from llama_stack_core.hookspecs import hookimpl",
            "from llama_stack_core.providers import ProviderSpec",
        ]
    imports = "\n".join(third_party) + "\n\n" + "\n".join(sorted(core))
    parts = [_render("tests/header.py", ctx, imports=imports, provider_config=_py_block(provider_config)), stubs]
    register_body = _fill(_REGISTER_BODIES[kind.type], name) if kind else {}
    if kind is not None:
        parts.append(
            _render(
                "tests/lifecycle.py",
                ctx,
                register_body=_py_block(register_body, 0, 33),
                rtype=kind.type,
                rtitle=kind.model.__name__,
            )
        )
    parts.append(_render("tests/fixtures.py", ctx))
    if api.value == "inference":
        parts.append(_render("tests/inference_http.py"))
        return "".join(parts)
    identifier = register_body.get(kind.register_request.id_field, "") if kind else ""
    register = (
        _render(
            "tests/generic_register.py",
            collection=RESOURCE_PATHS[kind.type][0],
            api=api.value,
            identifier=identifier,
            plural=kind.plural,
            rtype=kind.type,
        )
        if kind
        else ""
    )
    call = ""
    sample = _SAMPLE_CALLS.get(api.value)
    if sample is not None:
        http_method, path, kwargs = _fill(sample, name, identifier)
        route = next(
            (
                r
                for r in api_spec(api).routes
                if r.handler is None and r.method == http_method and _path_matches(r.path, path)
            ),
            None,
        )
        if route is not None:
            args = [_py(http_method), _py(path), *(f"{key}={_py(value)}" for key, value in kwargs.items())]
            call_args = ", ".join(args)
            if len(call_args) > 80:
                args[2:] = [f"{key}={_py_block(value, 12, 13 + len(key))}" for key, value in kwargs.items()]
                call_args = f"\n{' ' * 12}{args[0]}, {args[1]},\n" + "".join(f"{' ' * 12}{a},\n" for a in args[2:])
                call_args += " " * 8
            call = _render("tests/generic_call.py", call_args=call_args, method=route.name)
    parts += [_render("tests/generic_http.py"), register, call]
    return "".join(parts)


def _path_matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\\\{[^}]*path\\\}", ".+", re.escape(template))
    pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", pattern)
    return re.fullmatch(pattern, path) is not None


def validate(name: str, api: str) -> None:
    """Raise ConfigError unless ``name`` is a valid provider name and ``api`` a known API."""
    from ..apis.routes import Api

    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"invalid provider name {name!r}: use lowercase letters, digits and single dashes, "
            f"starting with a letter (e.g. 'acme' or 'acme-cloud')"
        )
    if api not in Api.__members__:
        raise ConfigError(f"unknown API {api!r}; choose one of: {', '.join(a.value for a in Api)}")


def render_files(name: str, api: str, *, remote: bool) -> dict[str, str]:
    """The package's files, relative path -> text (nothing written)."""
    from ..apis.resources import RESOURCE_KINDS
    from ..apis.routes import Api

    validate(name, api)
    api_enum = Api(api)
    kind = next((k for k in RESOURCE_KINDS.values() if k.api == api_enum), None)
    snake = name.replace("-", "_")
    module = f"llama_stack_provider_{snake}"
    provider_type = f"{'remote' if remote else 'inline'}::{name}"
    ctx: dict[str, Any] = {
        "name": name,
        "snake": snake,
        "env": snake.upper(),
        "package": f"llama-stack-provider-{name}",
        "module": module,
        "cls": _class_prefix(name),
        "api": api,
        "provider_type": provider_type,
        "core_range": _core_range(),
        "core_api_range": _core_api_range(),
        "api_rule": "    # -- the API " + "-" * 97,
    }
    if remote:
        config = _render("src/config_remote.py", ctx)
    elif api == "inference":
        config = _render("src/config_inline_inference.py", ctx)
    else:
        config = _render("src/config_inline.py", ctx)
    if api == "inference":
        provider = _render(
            "src/provider_inference.py",
            ctx,
            extra_imports="from llama_stack_core.request_context import provider_data\n" if remote else "",
            credentials=(
                _render("src/parts/api_key.py", ctx) + _render("src/parts/reply_remote.py", ctx)
                if remote
                else _render("src/parts/reply_inline.py")
            ),
        )
    else:
        provider = _generic_provider(ctx, api_enum, kind, remote)
    sample = (
        {"url": f"${{env.{ctx['env']}_URL:=http://localhost:8000/v1}}", "api_key": f"${{env.{ctx['env']}_API_KEY:=}}"}
        if remote
        else {"reply_prefix": name}
        if api == "inference"
        else {}
    )
    return {
        "pyproject.toml": _render("pyproject.toml", ctx),
        "README.md": _render("README.md", ctx, config_yaml=_yaml_lines(sample, 8)),
        f"src/{module}/__init__.py": _render("src/__init__.py", ctx),
        f"src/{module}/plugin.py": _render("src/plugin.py", ctx),
        f"src/{module}/config.py": config,
        f"src/{module}/provider.py": provider,
        "tests/test_conformance.py": _test_file(ctx, api_enum, kind, remote),
    }


def scaffold_provider(name: str, api: str, directory: str, *, remote: bool) -> Path:
    """Create ``<directory>/llama-stack-provider-<name>/`` and return its path."""
    files = render_files(name, api, remote=remote)
    root = Path(directory).expanduser() / f"llama-stack-provider-{name}"
    if root.exists():
        raise ConfigError(f"{root} already exists; remove it or pass another --directory")
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
