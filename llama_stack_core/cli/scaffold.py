"""``stack new-provider``: write a provider package skeleton that installs, registers and passes its own tests.

The files come from the string templates below, filled in from the installed core: the hook name, the API's provider
Protocol (one method stub per operation), the resource type the API owns and the core's version range.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
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


# -- templates ---------------------------------------------------------------------------------------------------

PYPROJECT = Template("""\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "$package"
version = "0.1.0"
description = "$provider_type: a $api provider for llama-stack-core."
readme = "README.md"
requires-python = ">=3.11"
dependencies = [
    # A compatible range, never ==: the core promises a stable provider API within it.
    "llama-stack-core$core_range",
]

[project.optional-dependencies]
test = ["llama-stack-core[testing]"]

[project.entry-points.llama_stack]
$name = "$module.plugin"

[tool.hatch.build.targets.wheel]
packages = ["src/$module"]
# Editable installs put src/ on sys.path (no "editables" package needed, so --no-build-isolation works too).
dev-mode-dirs = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
""")

README = Template("""\
# $package

`$provider_type`: a provider for the Llama Stack **$api** API, loaded by
[llama-stack-core](https://pypi.org/project/llama-stack-core/) through the `llama_stack` entry point.

## Install

```bash
pip install -e '.[test]'
stack list-providers --api $api     # shows $provider_type and this package
```

## Use it in a run config

```yaml
providers:
  $api:
    - provider_id: $name
      provider_type: $provider_type
      config:
$config_yaml
```

## Layout

- `src/$module/plugin.py`: the entry point. Declares the provider
  (`register_${api}_providers`); keep it cheap to import, never import your SDK there.
- `src/$module/config.py`: the pydantic config (secrets as `SecretStr`).
- `src/$module/provider.py`: the implementation, imported only when a run
  config uses the provider.
- `tests/test_conformance.py`: the core's conformance kit plus calls through the stack over HTTP.

## Test

```bash
pytest
```
""")

INIT = Template('''\
"""$package: $provider_type, a provider for the Llama Stack $api API."""
''')

PLUGIN = Template('''\
"""Entry point of $package (group ``llama_stack``, see pyproject.toml).

The stack imports this module at start-up and from the CLI, so keep it cheap: declare specs here, import the SDK
only in ``provider.py``, which the stack imports (through ``factory``) when a run config uses the provider.
"""

from __future__ import annotations

from llama_stack_core.apis.routes import Api
from llama_stack_core.hookspecs import hookimpl
from llama_stack_core.providers import ProviderSpec

from .config import ${cls}Config


@hookimpl
def register_${api}_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(
            api=Api.$api,
            provider_type="$provider_type",
            config_class=${cls}Config,
            factory="$module.provider:create_provider",
            description="TODO: one line on what $name does.",
            core_api_version="$core_api_range",
        )
    ]
''')

CONFIG_INLINE_INFERENCE = Template('''\
"""Configuration of $provider_type. Imported by plugin.py, so it must stay light (pydantic only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ${cls}Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reply_prefix: str = Field(default="$name", description="TODO: replace with your provider's settings.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {"reply_prefix": "$name"}
''')

CONFIG_INLINE = Template('''\
"""Configuration of $provider_type. Imported by plugin.py, so it must stay light (pydantic only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ${cls}Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # TODO: your settings, e.g. ``storage_dir: str = "~/.llama/$name"``. Secrets go in SecretStr fields.

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider."""
        return {}
''')

CONFIG_REMOTE = Template('''\
"""Configuration of $provider_type. Imported by plugin.py, so it must stay light (pydantic only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ${cls}Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="http://localhost:8000/v1", description="Base URL of the upstream service.")
    api_key: SecretStr | None = Field(
        default=None,
        description="Default API key. A request may bring its own in the X-LlamaStack-Provider-Data header "
        'as {"${snake}_api_key": "..."}.',
    )
    timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for the upstream.")

    @classmethod
    def sample_config(cls) -> dict[str, Any]:
        """What ``stack`` puts in a generated run config for this provider (values from the environment)."""
        return {
            "url": "$${env.${env}_URL:=http://localhost:8000/v1}",
            "api_key": "$${env.${env}_API_KEY:=}",
        }
''')

PROVIDER_INFERENCE = Template('''\
"""$provider_type: the implementation, imported only when a run config uses this provider.

TODO: replace the echo logic with calls to your model server or SDK. ``request.model`` is already the provider's own
model id (the registered model's ``provider_model_id``).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from llama_stack_core.errors import BadRequestError
$extra_imports
from .config import ${cls}Config

if TYPE_CHECKING:
    from llama_stack_core.apis.inference import ChatCompletionRequest, CompletionRequest, EmbeddingsRequest
    from llama_stack_core.apis.resources import Model
    from llama_stack_core.apis.routes import Api

DEFAULT_EMBEDDING_DIMENSION = 8


class ${cls}Inference:
    """Implements ``llama_stack_core.apis.inference.InferenceProvider``.

    Methods may return pydantic response models or plain dicts of the same shape; with ``request.stream`` set,
    return an async iterator of chunks and the stack streams them as server-sent events.
    """

    def __init__(self, config: ${cls}Config) -> None:
        self.config = config
        self.models: dict[str, Model] = {}  # by provider_resource_id

    async def health(self) -> dict[str, Any]:
        """Shown by GET /v1/providers (given 5 s): {"status": "OK"}, or {"status": "Error", "message": ...}."""
        return {"status": "OK"}

    async def shutdown(self) -> None:
        """Called when the server stops: close clients and connections here."""

    # -- resource hooks ------------------------------------------------------------------------------------------

    async def register_model(self, model: Model) -> None:
        """Called when a model is registered on this provider, and at start-up for stored ones.

        Raise ValueError to refuse it (HTTP 400); nothing is stored then.
        """
        self.models[model.provider_resource_id or model.identifier] = model

    async def unregister_model(self, model: Model) -> None:
        self.models.pop(model.provider_resource_id or model.identifier, None)

$credentials$api_rule

    async def openai_chat_completion(self, request: ChatCompletionRequest) -> Any:
        text = self._reply(_last_user_text(request.messages))
        if request.stream:
            return self._stream(request.model, text)
        return {
            "id": f"chatcmpl-{uuid.uuid4()}", "object": "chat.completion", "created": int(time.time()),
            "model": request.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": _usage(text),
        }

    async def _stream(self, model: str, text: str) -> AsyncIterator[dict[str, Any]]:
        chunk_id = f"chatcmpl-{uuid.uuid4()}"
        words = text.split(" ")
        for i, word in enumerate(words):
            yield {"id": chunk_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                   "choices": [{"index": 0, "delta": {"content": word if i == 0 else " " + word},
                                "finish_reason": "stop" if i == len(words) - 1 else None}]}

    async def openai_completion(self, request: CompletionRequest) -> Any:
        if not isinstance(request.prompt, str):
            raise BadRequestError("$name only completes a single string prompt", param="prompt")
        text = self._reply(request.prompt)
        completion = {
            "id": f"cmpl-{uuid.uuid4()}", "object": "text_completion", "created": int(time.time()),
            "model": request.model, "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": _usage(text),
        }
        if request.stream:
            return _single(completion)
        return completion

    async def openai_embeddings(self, request: EmbeddingsRequest) -> Any:
        texts = [request.input] if isinstance(request.input, str) else list(request.input)
        model = self.models.get(request.model)
        dimension = (model.metadata if model else {}).get("embedding_dimension", DEFAULT_EMBEDDING_DIMENSION)
        data = [{"object": "embedding", "index": i, "embedding": _embed(str(text), dimension)}
                for i, text in enumerate(texts)]
        return {"object": "list", "data": data, "model": request.model,
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}}


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            if isinstance(message.content, str):
                return message.content
            return " ".join(part.text for part in message.content if part.type == "text")
    return ""


def _usage(text: str) -> dict[str, int]:
    tokens = len(text.split())
    return {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1}


async def _single(item: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield item


def _embed(text: str, dimension: int) -> list[float]:
    """A deterministic stand-in vector (TODO: call your embedding model)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimension:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(b / 255 for b in digest)
        counter += 1
    return values[:dimension]


async def create_provider(config: ${cls}Config, deps: dict[Api, Any]) -> ${cls}Inference:
    """The factory named in plugin.py. May be async: open clients or connections here."""
    return ${cls}Inference(config)
''')

INFERENCE_CREDENTIALS_INLINE = """\
    def _reply(self, text: str) -> str:
        return f"{self.config.reply_prefix}: {text}"

"""

INFERENCE_CREDENTIALS_REMOTE = Template('''\
    def _api_key(self) -> str | None:
        """Per-request credentials first (X-LlamaStack-Provider-Data), then the configured key."""
        key = provider_data().get("${snake}_api_key")
        if key:
            return str(key)
        return self.config.api_key.get_secret_value() if self.config.api_key else None

    def _reply(self, text: str) -> str:
        # TODO: call self.config.url with self._api_key() (raise AuthenticationError, UpstreamError, ... from
        # llama_stack_core.errors for upstream failures) instead of echoing.
        return f"$name: {text}"

''')

PROVIDER_GENERIC = Template('''\
"""$provider_type: the implementation, imported only when a run config uses this provider.

Every operation of the $api API is stubbed below and raises NotImplementedError, which the stack answers with
HTTP 501. Implement them one by one; raise the errors of ``llama_stack_core.errors`` (NotFoundError, BadRequestError,
UpstreamError, ...) to answer with the matching HTTP status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
$extra_imports
from .config import ${cls}Config

if TYPE_CHECKING:
$type_imports

class ${cls}${api_cls}:
    """Implements ``$protocol``."""

    def __init__(self, config: ${cls}Config, deps: dict[Api, Any]) -> None:
        self.config = config
        self.deps = deps  # routers of the APIs named in ProviderSpec.api_dependencies
$state
    async def health(self) -> dict[str, Any]:
        """Shown by GET /v1/providers (given 5 s): {"status": "OK"}, or {"status": "Error", "message": ...}."""
        return {"status": "OK"}

    async def shutdown(self) -> None:
        """Called when the server stops: close clients and connections here."""

$credentials$resource_hooks$api_rule
$methods

async def create_provider(config: ${cls}Config, deps: dict[Api, Any]) -> ${cls}${api_cls}:
    """The factory named in plugin.py. May be async: open clients or connections here."""
    return ${cls}${api_cls}(config, deps)
''')

GENERIC_CREDENTIALS_REMOTE = Template('''\
    def _api_key(self) -> str | None:
        """Per-request credentials first (X-LlamaStack-Provider-Data), then the configured key."""
        key = provider_data().get("${snake}_api_key")
        if key:
            return str(key)
        return self.config.api_key.get_secret_value() if self.config.api_key else None

''')

RESOURCE_HOOKS = Template('''\
    # -- resource hooks ------------------------------------------------------------------------------------------

    async def register_$rtype(self, $rtype: $rmodel) -> None:
        """Called when a $rtype is registered on this provider, and at start-up for stored ones.

        Raise ValueError to refuse it (HTTP 400); nothing is stored then.
        """
        self.$plural[$rtype.identifier] = $rtype

    async def unregister_$rtype(self, $rtype: $rmodel) -> None:
        self.$plural.pop($rtype.identifier, None)

''')

METHOD = Template('''
$signature
        """TODO: implement ``$route``.

        $summary
        """
        raise NotImplementedError("$name: $method is not implemented yet")
''')

TEST_HEADER = Template('''\
"""Conformance tests for $provider_type: the core's kit, plus calls through the stack over HTTP.

Run with ``pytest`` after ``pip install -e '.[test]'``: the stack finds the provider through its entry point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

$imports

PROVIDER_TYPE = "$provider_type"
PROVIDER_CONFIG: dict[str, Any] = $provider_config
$stubs''')

TEST_STUBS = Template('''
# -- stand-ins for the APIs this provider's resources refer to ----------------------------------------------------


class StubConfig(BaseModel):
    pass


class Stub:
    """A provider that accepts every resource and serves nothing."""


def create_stub(config: StubConfig, deps: dict[Api, Any]) -> Stub:
    return Stub()


class SupportingProviders:
    """A plugin object offering stub providers, registered with ``extra_plugins`` (tests only)."""
$hooks

def _stub_spec(api: Api) -> ProviderSpec:
    return ProviderSpec(api=api, provider_type="inline::test-stub", config_class=StubConfig,
                        factory=f"{__name__}:create_stub")


EXTRA_PLUGINS: list[Any] = [SupportingProviders()]
SUPPORTING_PROVIDERS: dict[str, list[dict[str, Any]]] = {
$providers}
SUPPORTING_RESOURCES: dict[str, list[dict[str, Any]]] = $resources
''')

TEST_STUB_HOOK = Template("""
    @hookimpl
    def register_${api}_providers(self) -> list[ProviderSpec]:
        return [_stub_spec(Api.$api)]
""")

TEST_NO_STUBS = """
EXTRA_PLUGINS: list[Any] = []
SUPPORTING_PROVIDERS: dict[str, list[dict[str, Any]]] = {}
SUPPORTING_RESOURCES: dict[str, list[dict[str, Any]]] = {}
"""

TEST_LIFECYCLE = Template('''
REGISTER_BODY: dict[str, Any] = $register_body


class Test${cls}${rtitle}Lifecycle(ResourceLifecycleTests):
    """The shared register/get/list/unregister/restart tests for ${rtype}s served by this provider."""

    api = "$api"
    provider_type = PROVIDER_TYPE
    provider_config = PROVIDER_CONFIG
    resource_type = "$rtype"
    register_body = REGISTER_BODY
    supporting_providers = SUPPORTING_PROVIDERS
    supporting_resources = SUPPORTING_RESOURCES
    extra_plugins = EXTRA_PLUGINS
''')

TEST_FIXTURES = Template('''

@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def run_config(tmp_path: Path) -> dict[str, Any]:
    """A stack with this provider (id ``under-test``) and the supporting stubs, registry in tmp_path."""
    entry = {"provider_id": PROVIDER_ID, "provider_type": PROVIDER_TYPE, "config": PROVIDER_CONFIG}
    providers = {**SUPPORTING_PROVIDERS, "$api": [entry]}
    return make_run_config(providers, tmp_path, **SUPPORTING_RESOURCES)


def plugin_manager() -> PluginManager:
    """Installed plugins (this package, through its entry point) plus the test stubs."""
    return PluginManager(extra_plugins=EXTRA_PLUGINS)
''')

TEST_INFERENCE_HTTP = """

@pytest.mark.anyio
async def test_chat_completion_over_http(run_config: dict[str, Any]) -> None:
    async with stack_client(run_config, plugin_manager()) as client:
        registered = await client.post("/v1/models", json={"model_id": "http-llm", "provider_id": PROVIDER_ID,
                                                            "provider_model_id": "small"})
        assert registered.status_code == 200, registered.text
        response = await client.post("/v1/chat/completions", json={
            "model": "http-llm", "messages": [{"role": "user", "content": "hello there"}]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"].endswith("hello there")


@pytest.mark.anyio
async def test_streamed_chat_completion_over_http(run_config: dict[str, Any]) -> None:
    async with stack_client(run_config, plugin_manager()) as client:
        response = await client.post("/v1/chat/completions", json={
            "model": f"{PROVIDER_ID}/small", "stream": True, "messages": [{"role": "user", "content": "one two"}]})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.text.splitlines() if line.startswith("data: ")]
        assert events and '"finish_reason":"stop"' in events[-1].replace(" ", "")


@pytest.mark.anyio
async def test_embeddings_over_http(run_config: dict[str, Any]) -> None:
    async with stack_client(run_config, plugin_manager()) as client:
        registered = await client.post("/v1/models", json={
            "model_id": "http-embedding", "provider_id": PROVIDER_ID, "model_type": "embedding",
            "metadata": {"embedding_dimension": 16}})
        assert registered.status_code == 200, registered.text
        response = await client.post("/v1/embeddings", json={"model": "http-embedding", "input": ["a", "b"]})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert [item["index"] for item in data] == [0, 1]
        assert all(len(item["embedding"]) == 16 for item in data)
"""

TEST_GENERIC_HTTP = Template("""

@pytest.mark.anyio
async def test_provider_reached_over_http(run_config: dict[str, Any]) -> None:
    async with stack_client(run_config, plugin_manager()) as client:
        listed = await client.get(f"/v1/providers/{PROVIDER_ID}")
        assert listed.status_code == 200, listed.text
        assert listed.json()["provider_type"] == PROVIDER_TYPE
$register$call""")

TEST_GENERIC_REGISTER = Template("""\
        body = {**REGISTER_BODY, "provider_id": PROVIDER_ID}
        registered = await client.post("$collection", json=body)
        assert registered.status_code == 200, registered.text
        provider = client.app.state.stack.providers["$api"][PROVIDER_ID].impl
        assert "$identifier" in provider.$plural  # register_$rtype ran
""")

TEST_GENERIC_CALL = Template("""\
        response = await client.request($call_args)
        # The scaffolded $method raises NotImplementedError, which the stack answers with 501.
        # TODO: once you implement it, assert on the real answer instead.
        assert response.status_code == 501, response.text
        assert "$method" in response.json()["error"]["message"]
""")


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
            METHOD.substitute(
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
    return PROVIDER_GENERIC.substitute(
        ctx,
        extra_imports=extra_imports,
        type_imports=_format_imports(imports, "    ") + "\n",
        api_cls=_API_CLASS_NAMES.get(api.value, api.value.capitalize()),
        protocol=f"{protocol.__module__}.{protocol.__name__}",
        state=(f"        self.{kind.plural}: dict[str, {kind.model.__name__}] = {{}}\n" if kind else ""),
        credentials=GENERIC_CREDENTIALS_REMOTE.substitute(ctx) if remote else "",
        resource_hooks=(
            RESOURCE_HOOKS.substitute(rtype=kind.type, rmodel=kind.model.__name__, plural=kind.plural) if kind else ""
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
        stubs = TEST_STUBS.substitute(
            hooks="".join(TEST_STUB_HOOK.substitute(api=a) for a in stub_apis),
            providers="".join(
                f'    "{a}": [{{"provider_id": "stub-{a}", "provider_type": "inline::test-stub", "config": {{}}}}],\n'
                for a in stub_apis
            ),
            resources=_py_block(supporting, 0, 56),
        )
    else:
        stubs = TEST_NO_STUBS
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
    parts = [TEST_HEADER.substitute(ctx, imports=imports, provider_config=_py_block(provider_config), stubs=stubs)]
    register_body = _fill(_REGISTER_BODIES[kind.type], name) if kind else {}
    if kind is not None:
        parts.append(
            TEST_LIFECYCLE.substitute(
                ctx, register_body=_py_block(register_body, 0, 33), rtype=kind.type, rtitle=kind.model.__name__
            )
        )
    parts.append(TEST_FIXTURES.substitute(ctx))
    if api.value == "inference":
        parts.append(TEST_INFERENCE_HTTP)
        return "".join(parts)
    identifier = register_body.get(kind.register_request.id_field, "") if kind else ""
    register = (
        TEST_GENERIC_REGISTER.substitute(
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
            call = TEST_GENERIC_CALL.substitute(call_args=call_args, method=route.name)
    parts.append(TEST_GENERIC_HTTP.substitute(register=register, call=call))
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
        config = CONFIG_REMOTE.substitute(ctx)
    elif api == "inference":
        config = CONFIG_INLINE_INFERENCE.substitute(ctx)
    else:
        config = CONFIG_INLINE.substitute(ctx)
    if api == "inference":
        provider = PROVIDER_INFERENCE.substitute(
            ctx,
            extra_imports="from llama_stack_core.request_context import provider_data\n" if remote else "",
            credentials=(INFERENCE_CREDENTIALS_REMOTE.substitute(ctx) if remote else INFERENCE_CREDENTIALS_INLINE),
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
        "pyproject.toml": PYPROJECT.substitute(ctx),
        "README.md": README.substitute(ctx, config_yaml=_yaml_lines(sample, 8)),
        f"src/{module}/__init__.py": INIT.substitute(ctx),
        f"src/{module}/plugin.py": PLUGIN.substitute(ctx),
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
