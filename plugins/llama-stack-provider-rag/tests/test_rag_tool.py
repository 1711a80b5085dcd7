"""inline::rag-runtime end to end through the stack, with the real offline embedding model (all-MiniLM-L6-v2,
``inline::sentence-transformers``), ``inline::sqlite-vec`` and ``inline::localfs`` files: the ``builtin::rag`` tools,
the rag-tool insert/query routes, the llama-stack-client SDK, and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from llama_stack_provider_rag import plugin

from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.documents import TOPICAL_QUESTIONS, corpus
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.imports import assert_plugin_module_is_light
from llama_stack_core.testing.tool_runtime import PROVIDER_ID as KIT_PROVIDER_ID
from llama_stack_core.testing.tool_runtime import ToolRuntimeProviderTests
from llama_stack_core.testing.vector_io import EMBEDDING, EMBEDDING_MAX_SEQUENCE, embedding_tokenizer

TEXTS = {
    "astronomy": "Telescopes reveal distant galaxies, nebulae and the rings of Saturn. Astronomers measure the "
    "light of stars to learn how far away they are and how planets orbit them.",
    "cooking": "Knead the dough with flour, water, yeast and salt, let it rise, then bake the loaf in a hot oven "
    "until the crust is golden.",
    "finance": "Quarterly earnings report. Revenue grew and the company paid dividends to shareholders; interest "
    "rates and stock prices moved.",
    "gardening": "Water tomato plants in the morning, prune the roses and add compost to the soil so the "
    "vegetables grow. Seeds sprout in spring when the garden soil warms.",
}


def supporting_providers(workdir: Path) -> dict[str, list[dict[str, Any]]]:
    """The real offline embedding model, local files and sqlite-vec."""
    return {
        "inference": [{"provider_id": "embeddings", "provider_type": "inline::sentence-transformers", "config": {}}],
        "files": [
            {
                "provider_id": "files",
                "provider_type": "inline::localfs",
                "config": {
                    "storage_dir": str(workdir / "files"),
                    "persistence": {"backend": "default", "namespace": "files"},
                },
            }
        ],
        "vector_io": [
            {
                "provider_id": "sqlite-vec",
                "provider_type": "inline::sqlite-vec",
                "config": {
                    "persistence": {"backend": "default", "namespace": "vector_io"},
                    "db_path": str(workdir / "vec.db"),
                },
            }
        ],
    }


class TestRAGRuntimeConformance(ToolRuntimeProviderTests):
    """The core's tool runtime kit: builtin::rag bound to a store registered in the run config; the call that works
    inserts a document into it (for real: chunked, embedded, indexed)."""

    provider_type = "inline::rag-runtime"
    toolgroup = {"toolgroup_id": "builtin::rag", "args": {"vector_store_ids": ["kit-kb"]}}
    expected_tools = {"knowledge_search", "knowledge_insert"}
    invocation = ("knowledge_insert", {"documents": [{"document_id": "bread", "content": TEXTS["cooking"]}]})
    invalid_invocation = ("knowledge_search", {"query": 42}, "query")
    extra_plugins = [plugin]

    @pytest.fixture(scope="class")
    @classmethod
    def supporting(cls, workdir: Path) -> dict[str, list[dict[str, Any]]]:
        return supporting_providers(workdir)

    @pytest.fixture(scope="class")
    @classmethod
    async def toolgroup_body(cls, http: Any) -> dict[str, Any]:
        """The store the group is bound to, registered first (the run config's vector_dbs cannot name a model a
        provider registers at start-up)."""
        body = {"vector_db_id": "kit-kb", "embedding_model": EMBEDDING, "provider_id": "sqlite-vec"}
        registered = await http.post("/v1/vector-dbs", json=body)
        assert registered.status_code == 200, registered.text
        return dict(cls.toolgroup)

    def check_result(self, result: dict[str, Any]) -> None:
        assert result["metadata"] == {"vector_store_id": "kit-kb", "documents": {"bread": {"chunks": 1}}}
        assert "Inserted 1 documents into vector store kit-kb" in result["content"]

    @pytest.mark.anyio
    async def test_inserted_document_is_found_in_the_groups_store(self, http: Any, group_id: str) -> None:
        if (await http.get(f"/v1/toolgroups/{group_id}")).status_code == 404:  # the kit's last test removed it
            registered = await http.post("/v1/toolgroups", json={**self.toolgroup, "provider_id": KIT_PROVIDER_ID})
            assert registered.status_code == 200, registered.text
        await self.invoke(http, *self.invocation)
        found = await self.invoke(http, "knowledge_search", {"query": TOPICAL_QUESTIONS["cooking"]})
        assert found.status_code == 200, found.text
        assert found.json()["metadata"]["chunks"][0]["document_id"] == "bread"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def http(tmp_path_factory: pytest.TempPathFactory, anyio_backend: str) -> AsyncIterator[Any]:
    workdir = Path(tmp_path_factory.mktemp("rag"))
    providers = supporting_providers(workdir)
    providers["tool_runtime"] = [{"provider_id": "rag", "provider_type": "inline::rag-runtime", "config": {}}]
    async with stack_client(make_run_config(providers, workdir), PluginManager(extra_plugins=[plugin])) as client:
        yield client


async def new_store(http: Any, name: str = "kb") -> str:
    answer = await http.post("/v1/vector_stores", json={"name": name, "embedding_model": EMBEDDING})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


async def invoke(http: Any, tool: str, **kwargs: Any) -> Any:
    return await http.post("/v1/tool-runtime/invoke", json={"tool_name": tool, "kwargs": kwargs})


@pytest.fixture(scope="module")
async def topical(http: Any) -> str:
    """A store with the four topical texts inserted through knowledge_insert, each with attributes {topic, year}."""
    store = await new_store(http, "topical")
    documents = [
        {"document_id": f"doc-{topic}", "content": text, "metadata": {"topic": topic, "year": 2020 + i}}
        for i, (topic, text) in enumerate(TEXTS.items())
    ]
    answer = await invoke(http, "knowledge_insert", documents=documents, vector_store_id=store)
    assert answer.status_code == 200, answer.text
    assert answer.json()["metadata"]["documents"]["doc-cooking"] == {"chunks": 1}
    return store


# -- tools ---------------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_builtin_rag_group_lists_its_tools_with_json_schemas(http: Any) -> None:
    groups = (await http.get("/v1/toolgroups")).json()["data"]
    assert any(g["identifier"] == "builtin::rag" and g["provider_id"] == "rag" for g in groups)
    answer = await http.get("/v1/tool-runtime/list-tools", params={"tool_group_id": "builtin::rag"})
    assert answer.status_code == 200, answer.text
    tools = {t["name"]: t for t in answer.json()["data"]}
    assert set(tools) == {"knowledge_search", "knowledge_insert"}
    assert tools["knowledge_search"]["input_schema"]["required"] == ["query"]
    assert tools["knowledge_insert"]["input_schema"]["properties"]["documents"]["type"] == "array"


@pytest.mark.anyio
async def test_knowledge_search_finds_the_right_document_with_its_attributes(http: Any, topical: str) -> None:
    for topic, question in TOPICAL_QUESTIONS.items():
        answer = await invoke(http, "knowledge_search", query=question, vector_store_ids=[topical], max_results=2)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        best = result["metadata"]["chunks"][0]
        assert best["document_id"] == f"doc-{topic}" and best["attributes"]["topic"] == topic, (question, best)
        assert best["chunk_id"] == f"doc-{topic}-0" and best["vector_store_id"] == topical and best["score"] > 0
        texts = [item["text"] for item in result["content"]]
        assert texts[0].startswith("knowledge_search found 2 chunks") and len(texts) == 4
        assert f"document_id: doc-{topic}" in texts[1] and TEXTS[topic] in texts[1]
        assert question in texts[-1]


@pytest.mark.anyio
async def test_knowledge_search_filters_modes_and_group_args(http: Any, topical: str) -> None:
    question = TOPICAL_QUESTIONS["gardening"]
    only_finance = {"type": "eq", "key": "topic", "value": "finance"}
    answer = await invoke(http, "knowledge_search", query=question, vector_store_ids=[topical], filters=only_finance)
    assert [c["document_id"] for c in answer.json()["metadata"]["chunks"]] == ["doc-finance"]
    keyword = await invoke(http, "knowledge_search", query="dividends", vector_db_ids=[topical], search_mode="keyword")
    assert [c["document_id"] for c in keyword.json()["metadata"]["chunks"]] == ["doc-finance"]
    # a group registered with its stores: the tool needs no store ids
    registered = await http.post(
        "/v1/toolgroups",
        json={"toolgroup_id": "kb::topical", "provider_id": "rag", "args": {"vector_store_ids": [topical]}},
    )
    assert registered.status_code == 200, registered.text
    answer = await http.post(
        "/v1/tool-runtime/invoke",
        json={"tool_name": "knowledge_search", "toolgroup_id": "kb::topical", "kwargs": {"query": question}},
    )
    assert answer.json()["metadata"]["chunks"][0]["document_id"] == "doc-gardening"
    assert (await http.delete("/v1/toolgroups/kb::topical")).status_code in (200, 204)  # its tools clash by name
    refused = await http.post(
        "/v1/toolgroups", json={"toolgroup_id": "kb::bad", "provider_id": "rag", "args": {"vector_store_ids": "x"}}
    )
    assert refused.status_code == 400 and "vector_store_ids" in refused.json()["error"]["message"]


@pytest.mark.anyio
async def test_knowledge_search_over_two_stores_merges_by_score(http: Any, topical: str) -> None:
    other = await new_store(http, "parts")
    text = corpus()["identifier"][1].decode()
    inserted = await invoke(
        http, "knowledge_insert", documents=[{"document_id": "parts", "content": text}], vector_store_id=other
    )
    assert inserted.status_code == 200, inserted.text
    answer = await invoke(
        http,
        "knowledge_search",
        query="Which code is the valve assembly listed under?",
        vector_store_ids=[topical, other],
    )
    chunks = answer.json()["metadata"]["chunks"]
    assert chunks[0]["document_id"] == "parts" and chunks[0]["vector_store_id"] == other
    assert [c["score"] for c in chunks] == sorted((c["score"] for c in chunks), reverse=True) and len(chunks) == 5


@pytest.mark.anyio
async def test_insert_a_files_api_file_and_find_it_with_its_filename(http: Any) -> None:
    store = await new_store(http, "files")
    name, data = corpus()["finance"]  # a PDF: the engine parses it
    uploaded = (await http.post("/v1/files", files={"file": (name, data)}, data={"purpose": "assistants"})).json()
    answer = await invoke(
        http,
        "knowledge_insert",
        documents=[{"document_id": "report", "file_id": uploaded["id"], "metadata": {"quarter": "Q3"}}],
        vector_store_id=store,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["metadata"]["documents"]["report"] == {"file_id": uploaded["id"], "status": "completed"}
    found = await invoke(http, "knowledge_search", query="company dividends", vector_store_ids=[store])
    best = found.json()["metadata"]["chunks"][0]
    assert (best["file_id"], best["filename"]) == (uploaded["id"], "finance.pdf")
    assert best["attributes"] == {"quarter": "Q3", "document_id": "report"}
    assert f"file: finance.pdf ({uploaded['id']})" in found.json()["content"][1]["text"]


# -- rag-tool routes -------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rag_tool_insert_and_query_routes(http: Any) -> None:
    store = await new_store(http, "rag-routes")
    documents = [
        {"document_id": topic, "content": text, "mime_type": "text/plain", "metadata": {"topic": topic}}
        for topic, text in TEXTS.items()
    ]
    inserted = await http.post("/v1/tool-runtime/rag-tool/insert", json={"documents": documents, "vector_db_id": store})
    assert inserted.status_code == 200, inserted.text
    answer = await http.post(
        "/v1/tool-runtime/rag-tool/query",
        json={"content": TOPICAL_QUESTIONS["cooking"], "vector_db_ids": [store], "query_config": {"max_chunks": 2}},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["metadata"]["document_ids"][0] == "cooking" and len(result["metadata"]["scores"]) == 2
    assert result["content"][1]["text"].startswith("Result 1\nContent: Knead the dough")
    templated = await http.post(
        "/v1/tool-runtime/rag-tool/query",
        json={
            "content": [{"type": "text", "text": TOPICAL_QUESTIONS["astronomy"]}],
            "vector_db_ids": [store],
            "query_config": {"max_chunks": 1, "chunk_template": "<{index}> {chunk.content}", "mode": "hybrid"},
        },
    )
    assert templated.json()["content"][1]["text"] == f"<1> {TEXTS['astronomy']}"


@pytest.mark.anyio
async def test_default_chunks_are_what_the_embedding_model_embeds_whole(http: Any) -> None:
    store = await new_store(http, "long")
    words = "interoperability considerations notwithstanding, reconfigurable subsystems"
    text = " ".join(f"Clause {i}: {words} of annex {i * 13}." for i in range(150))
    inserted = await http.post(
        "/v1/tool-runtime/rag-tool/insert",
        json={"documents": [{"document_id": "long", "content": text}], "vector_db_id": store},
    )
    assert inserted.status_code == 200, inserted.text
    files = await http.post(
        "/v1/vector-io/query", json={"vector_db_id": store, "query": "annex", "params": {"max_chunks": 100}}
    )
    chunks = [c["content"] for c in files.json()["chunks"]]
    tokenizer = embedding_tokenizer()
    counts = [len(tokenizer(c)["input_ids"]) for c in chunks]
    assert len(chunks) > 5 and max(counts) <= EMBEDDING_MAX_SEQUENCE and max(counts) > EMBEDDING_MAX_SEQUENCE - 20
    small = await new_store(http, "small")
    await http.post(
        "/v1/tool-runtime/rag-tool/insert",
        json={
            "documents": [{"document_id": "long", "content": text}],
            "vector_db_id": small,
            "chunk_size_in_tokens": 64,
        },
    )
    found = await http.post(
        "/v1/vector-io/query", json={"vector_db_id": small, "query": "annex", "params": {"max_chunks": 100}}
    )
    assert (
        max(len(tokenizer(c["content"], add_special_tokens=False)["input_ids"]) for c in found.json()["chunks"]) <= 64
    )


# -- bad input -------------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_unknown_store_is_404(http: Any) -> None:
    search = await invoke(http, "knowledge_search", query="anything", vector_store_ids=["vs_missing"])
    insert = await invoke(
        http, "knowledge_insert", documents=[{"document_id": "d", "content": "x"}], vector_store_id="vs_missing"
    )
    query = await http.post("/v1/tool-runtime/rag-tool/query", json={"content": "x", "vector_db_ids": ["vs_missing"]})
    for answer in (search, insert, query):
        assert answer.status_code == 404 and "vs_missing" in answer.json()["error"]["message"], answer.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "kwargs", "needle"),
    [
        ("knowledge_search", {"vector_store_ids": ["vs_x"]}, "query"),
        ("knowledge_search", {"query": "x"}, "vector_store_ids"),
        ("knowledge_search", {"query": "x", "vector_store_ids": ["vs_x"], "max_results": 0}, "max_results"),
        ("knowledge_search", {"query": "x", "vector_store_ids": ["vs_x"], "filters": {"type": "eq"}}, "filters"),
        ("knowledge_insert", {"documents": [], "vector_store_id": "vs_x"}, "documents"),
        ("knowledge_insert", {"documents": [{"document_id": "d"}], "vector_store_id": "vs_x"}, "exactly one"),
        ("knowledge_insert", {"documents": [{"document_id": "d", "content": "x"}]}, "vector_store_id"),
        ("no_such_tool", {}, "no_such_tool"),
    ],
)
async def test_bad_arguments_are_400(http: Any, tool: str, kwargs: dict[str, Any], needle: str) -> None:
    answer = await invoke(http, tool, **kwargs)
    assert answer.status_code in (400, 404) and needle in answer.json()["error"]["message"], answer.text
    assert (answer.status_code == 404) == (tool == "no_such_tool")


@pytest.mark.anyio
async def test_web_urls_and_images_are_refused_with_400(http: Any, topical: str) -> None:
    for content in ({"uri": "https://example.com/doc.html"}, {"type": "image", "image": {"data": "aGk="}}):
        answer = await http.post(
            "/v1/tool-runtime/rag-tool/insert",
            json={"documents": [{"document_id": "d", "content": content}], "vector_db_id": topical},
        )
        assert answer.status_code == 400 and "documents[0].content" in answer.json()["error"]["message"], answer.text
    bad = await http.post(
        "/v1/tool-runtime/rag-tool/query",
        json={"content": "x", "vector_db_ids": [topical], "query_config": {"chunk_template": "{chunk.nope}"}},
    )
    assert bad.status_code == 400 and "chunk_template" in bad.json()["error"]["message"]


# -- the llama-stack-client SDK ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_llama_stack_client_rag_tool(http: Any) -> None:
    sdk = pytest.importorskip("llama_stack_client")
    client = sdk.AsyncLlamaStackClient(base_url="http://stack", http_client=http, max_retries=0)
    if not hasattr(client.tool_runtime, "rag_tool"):
        pytest.skip("this llama-stack-client has no tool_runtime.rag_tool")
    store = await new_store(http, "sdk")
    await client.tool_runtime.rag_tool.insert(
        documents=[{"document_id": t, "content": text, "metadata": {"topic": t}} for t, text in TEXTS.items()],
        vector_db_id=store,
        chunk_size_in_tokens=128,
    )
    result = await client.tool_runtime.rag_tool.query(content=TOPICAL_QUESTIONS["finance"], vector_db_ids=[store])
    assert result.metadata["document_ids"][0] == "finance"
    invoked = await client.tool_runtime.invoke_tool(
        tool_name="knowledge_search", kwargs={"query": TOPICAL_QUESTIONS["gardening"], "vector_store_ids": [store]}
    )
    assert invoked.metadata["chunks"][0]["document_id"] == "gardening"


def test_plugin_module_is_light_and_registers_builtin_rag() -> None:
    from llama_stack_provider_rag.config import RAGRuntimeConfig

    assert_plugin_module_is_light(
        "llama_stack_provider_rag.plugin",
        {"llama_stack_provider_rag.provider", "llama_stack_core.vector_io.embedding"},
        call=["register_tool_runtime_providers"],
    )
    [group] = plugin.register_tool_groups("inline::rag-runtime", "rag", RAGRuntimeConfig())
    assert group.toolgroup_id == "builtin::rag"
    assert plugin.register_tool_groups("inline::rag-runtime", "rag", RAGRuntimeConfig(default_tool_group=False)) is None
    assert plugin.register_tool_groups("remote::other", "x", RAGRuntimeConfig()) is None
