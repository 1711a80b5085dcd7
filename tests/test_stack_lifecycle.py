"""Stack.stop(): providers drain and shut down in reverse start order, and no provider holds the stop up."""

from __future__ import annotations

import ast
import asyncio
import logging
import time
from pathlib import Path

import lifecycle_plugin
import pytest
from lifecycle_plugin import EVENTS

import llama_stack_core
from llama_stack_core.background import BackgroundTasks
from llama_stack_core.config.loader import parse_run_config
from llama_stack_core.errors import ServiceUnavailableError
from llama_stack_core.hookspecs import StackView
from llama_stack_core.plugins import PluginManager
from llama_stack_core.stack import Stack
from llama_stack_core.testing.harness import make_run_config

pytestmark = pytest.mark.anyio


async def started_stack(tmp_path, stop_timeout: float = 5.0, **upper_config) -> Stack:
    EVENTS.clear()
    config = make_run_config(
        {
            "inference": [{"provider_id": "lower", "provider_type": "inline::lower", "config": {}}],
            "safety": [{"provider_id": "upper", "provider_type": "inline::upper", "config": upper_config}],
        },
        tmp_path,
    )
    pm = PluginManager(autoload=False, extra_plugins=[lifecycle_plugin.LOWER, lifecycle_plugin.UPPER])
    stack = Stack(parse_run_config(config), pm, stop_timeout=stop_timeout)
    await stack.start()
    return stack


async def timed_stop(stack: Stack) -> float:
    began = time.monotonic()
    async with asyncio.timeout(10):  # fail, rather than hang, if the stop is unbounded
        await stack.stop()
    return time.monotonic() - began


def upper(stack: Stack) -> lifecycle_plugin.Upper:
    return stack.providers["safety"]["upper"].impl


async def test_a_provider_drains_and_shuts_down_before_the_api_it_depends_on(tmp_path):
    stack = await started_stack(tmp_path, work_seconds=0.2)
    upper(stack).start_work("ingest")
    await timed_stop(stack)
    assert EVENTS == [
        "upper: drain",
        "upper: ingest done, inference open",
        "upper: shutdown",
        "lower: shutdown",
    ]


async def test_background_work_past_the_deadline_is_cancelled_and_logged(tmp_path, caplog):
    stack = await started_stack(tmp_path, stop_timeout=0.2, work_seconds=60)
    upper(stack).start_work("ingest")
    with caplog.at_level(logging.WARNING):
        took = await timed_stop(stack)
    assert took < 3
    assert EVENTS == ["upper: drain", "upper: ingest cancelled", "upper: shutdown", "lower: shutdown"]
    assert any("upper" in r.getMessage() and "ingest" in r.getMessage() for r in caplog.records)


async def test_a_shutdown_that_hangs_does_not_hold_the_stop(tmp_path, caplog):
    stack = await started_stack(tmp_path, stop_timeout=0.2, hang_on_shutdown=True)
    with caplog.at_level(logging.ERROR, logger="llama_stack_core.stack"):
        took = await timed_stop(stack)
    assert took < 3
    assert EVENTS == ["upper: drain", "upper: shutdown", "lower: shutdown"]
    [record] = [r for r in caplog.records if r.name == "llama_stack_core.stack"]
    assert record.levelno == logging.ERROR and "upper" in record.getMessage() and "shutdown" in record.getMessage()


async def test_background_tasks_refuse_new_work_once_draining():
    tasks = BackgroundTasks("p")
    done = tasks.spawn(asyncio.sleep(0), name="quick")
    await tasks.drain(1)
    assert done.done() and not done.cancelled() and len(tasks) == 0
    work = asyncio.sleep(0)
    with pytest.raises(ServiceUnavailableError, match="shutting down"):
        tasks.spawn(work)


def _imports(package: Path) -> dict[str, set[str]]:
    """module -> the package modules it imports, including under TYPE_CHECKING (an import cycle all the same)."""
    files = {".".join(p.relative_to(package.parent).with_suffix("").parts): p for p in package.rglob("*.py")}
    names = {name.removesuffix(".__init__") for name in files}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        home = name.rpartition(".")[0]  # the package relative imports start from
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = home.rsplit(".", node.level - 1)[0] if node.level else ""
                module = ".".join(filter(None, [base, node.module]))
                imported.update([module, *(f"{module}.{a.name}" for a in node.names)])
        graph[name.removesuffix(".__init__")] = imported & names
    return graph


def test_hookspecs_reaches_no_stack_module():
    graph = _imports(Path(llama_stack_core.__file__).parent)
    seen, todo = set(), ["llama_stack_core.hookspecs"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    assert "llama_stack_core.resources" in seen  # the walk follows TYPE_CHECKING imports
    assert "llama_stack_core.stack" not in seen


async def test_lifecycle_hooks_see_the_stack_as_a_stack_view(tmp_path):
    stack = await started_stack(tmp_path)
    try:
        assert isinstance(stack, StackView)
        assert [api.value for api in stack.apis] == ["inference", "safety"]
    finally:
        await stack.stop()
