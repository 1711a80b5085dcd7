"""Files conformance tests every Files provider runs, through the stack with the real ``openai`` SDK.

Subclass :class:`FilesProviderTests`, name the provider type and its config, and give the upload limit the config
sets (``None`` skips the 413 test)::

    class TestAcmeFiles(FilesProviderTests):
        provider_type = "remote::acme-files"
        provider_config = {"bucket": "test", "max_upload_bytes": 3 * 1024 * 1024}
        max_upload_bytes = 3 * 1024 * 1024

        def time_travel(self, monkeypatch, seconds):  # move the provider's clock forward (order and expiry tests)
            monkeypatch.setattr(acme_provider, "now", lambda: time.time() + seconds)

The stack is started once per class (``stack_client``, in this process), so tests share its files: each test checks
the files it uploaded and never assumes the store is empty. Override the ``config_under_test`` fixture to build the
config from other fixtures (a temp directory, a server's URL).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..plugins import PluginManager
from .harness import make_run_config, stack_client

PROVIDER_ID = "under-test"
MIB = 1024 * 1024


def binary_payload(size: int, seed: int = 7) -> bytes:
    """``size`` bytes that exercise a multipart parser: every byte value, CR/LF, NUL and boundary-like runs."""
    head = bytes(range(256)) + b"\r\n--\r\n\x00\r\n\r\n--boundary--\r\n\xff\xfe"
    return (head + random.Random(seed).randbytes(max(size - len(head), 0)))[:size]


class FilesProviderTests:
    provider_type: ClassVar[str]
    provider_config: ClassVar[dict[str, Any]] = {}
    #: The upload limit ``provider_config`` sets (keep it small, a few MiB); None skips the 413 test.
    max_upload_bytes: ClassVar[int | None] = None
    #: Size of the large binary round trip (above starlette's 1 MiB in-memory spool, so the upload spills to disk).
    large_file_bytes: ClassVar[int] = 2 * MIB
    supporting_providers: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    extra_plugins: ClassVar[list[Any]] = []

    def time_travel(self, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
        """Make the provider under test see a clock ``seconds`` ahead (undone by ``monkeypatch`` after the test)."""
        pytest.skip(f"{type(self).__name__} does not override time_travel, so list order and expiry are not tested")

    # -- fixtures ------------------------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def anyio_backend(cls) -> str:
        return "asyncio"

    @pytest.fixture(scope="class")
    @classmethod
    def config_under_test(cls) -> dict[str, Any]:
        """The provider's config. Override this fixture to build it from other fixtures (e.g. a temp directory)."""
        return cls.provider_config

    @pytest.fixture(scope="class")
    @classmethod
    def run_config(cls, tmp_path_factory: pytest.TempPathFactory, config_under_test: dict[str, Any]) -> dict[str, Any]:
        providers = {api: list(entries) for api, entries in cls.supporting_providers.items()}
        providers.setdefault("files", []).append(
            {"provider_id": PROVIDER_ID, "provider_type": cls.provider_type, "config": config_under_test}
        )
        return make_run_config(providers, Path(tmp_path_factory.mktemp("files-kit")))

    @pytest.fixture(scope="class")
    @classmethod
    async def http(cls, run_config: dict[str, Any], anyio_backend: str) -> AsyncIterator[Any]:
        async with stack_client(run_config, PluginManager(extra_plugins=list(cls.extra_plugins))) as client:
            yield client

    @pytest.fixture(scope="class")
    @classmethod
    def openai(cls, http: Any) -> Any:
        openai = pytest.importorskip("openai")
        return openai.AsyncOpenAI(base_url="http://stack/v1", api_key="unused", http_client=http, max_retries=0)

    # -- helpers -------------------------------------------------------------------------------------------------

    async def upload(
        self,
        openai: Any,
        content: bytes = b"hello files\n",
        filename: str = "hello.txt",
        purpose: str = "assistants",
        **params: Any,
    ) -> Any:
        return await openai.files.create(file=(filename, content), purpose=purpose, **params)

    async def listed(self, openai: Any, **params: Any) -> list[Any]:
        """Every file the list returns, following ``after`` cursors page by page (checking each page's fields)."""
        files: list[Any] = []
        after = None
        for _ in range(10_000):
            page = await openai.files.list(**params, **({"after": after} if after else {}))
            if page.data:
                assert page.first_id == page.data[0].id and page.last_id == page.data[-1].id
            files.extend(page.data)
            if not page.has_more:
                return files
            assert page.data, "has_more with an empty page"
            after = page.data[-1].id
        raise AssertionError("the list never ended")

    # -- upload, retrieve, content -------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_upload_returns_file_object(self, openai: Any) -> None:
        before = int(time.time())
        uploaded = await self.upload(openai, b"hello files\n", "hello.txt", "assistants")
        assert re.fullmatch(r"file-[A-Za-z0-9_-]+", uploaded.id), uploaded.id
        assert uploaded.object == "file"
        assert uploaded.bytes == 12
        assert uploaded.filename == "hello.txt"
        assert uploaded.purpose == "assistants"
        assert before - 5 <= uploaded.created_at <= int(time.time()) + 5
        assert uploaded.expires_at is None
        again = await self.upload(openai, b"hello files\n", "hello.txt", "assistants")
        assert again.id != uploaded.id

    @pytest.mark.anyio
    async def test_retrieve_matches_upload(self, openai: Any) -> None:
        uploaded = await self.upload(openai, b'{"a": 1}\n', "rows.jsonl", "batch")
        retrieved = await openai.files.retrieve(uploaded.id)
        for field in ("id", "object", "bytes", "created_at", "expires_at", "filename", "purpose"):
            assert getattr(retrieved, field) == getattr(uploaded, field), field

    @pytest.mark.anyio
    async def test_binary_content_round_trip(self, openai: Any) -> None:
        for size, name in ((1300, "small.bin"), (self.large_file_bytes, "résumé large.bin")):
            payload = binary_payload(size)
            uploaded = await self.upload(openai, payload, name, "user_data")
            assert uploaded.bytes == size and uploaded.filename == name
            content = await openai.files.content(uploaded.id)
            assert content.content == payload, f"{name}: the bytes read back differ from the bytes uploaded"

    @pytest.mark.anyio
    async def test_empty_file(self, openai: Any) -> None:
        uploaded = await self.upload(openai, b"", "empty.txt", "user_data")
        assert uploaded.bytes == 0
        assert (await openai.files.content(uploaded.id)).content == b""

    @pytest.mark.anyio
    async def test_concurrent_uploads(self, openai: Any) -> None:
        payloads = [binary_payload(5000 + i, seed=i) for i in range(6)]
        uploaded = await asyncio.gather(
            *(self.upload(openai, p, f"c{i}.bin", "user_data") for i, p in enumerate(payloads))
        )
        assert len({f.id for f in uploaded}) == len(payloads)
        contents = await asyncio.gather(*(openai.files.content(f.id) for f in uploaded))
        assert [c.content for c in contents] == payloads

    # -- list ----------------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_list_is_newest_first(self, openai: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        older = await self.upload(openai, b"older", "older.txt", "evals")
        self.time_travel(monkeypatch, 2)  # a later created_at second, so the order is observable
        newer = [(await self.upload(openai, f"newer {i}".encode(), f"n{i}.txt", "evals")) for i in range(2)]
        assert all(f.created_at > older.created_at for f in newer)
        newest_first = [f.id for f in await self.listed(openai, limit=2)]
        assert all(newest_first.index(f.id) < newest_first.index(older.id) for f in newer)
        oldest_first = [f.id for f in await self.listed(openai, limit=2, order="asc")]
        assert all(oldest_first.index(f.id) > oldest_first.index(older.id) for f in newer)

    @pytest.mark.anyio
    async def test_list_pagination(self, openai: Any) -> None:
        mine = [(await self.upload(openai, f"page {i}".encode(), f"p{i}.txt", "evals")).id for i in range(5)]
        whole = await openai.files.list(limit=10_000)
        assert whole.object == "list" and whole.has_more is False
        everything = [f.id for f in whole.data]
        assert set(mine) <= set(everything)
        created = [f.created_at for f in whole.data]
        assert created == sorted(created, reverse=True), "the default order is newest first"

        paged = await self.listed(openai, limit=2)
        assert [f.id for f in paged] == everything, "pages of 2 joined differ from one whole page"

        first = await openai.files.list(limit=2)
        assert len(first.data) == 2 and first.has_more is True
        second = await openai.files.list(limit=2, after=first.data[-1].id)
        assert [f.id for f in second.data] == everything[2:4]

        oldest_first = await self.listed(openai, limit=3, order="asc")
        assert sorted(f.id for f in oldest_first) == sorted(everything)
        created = [f.created_at for f in oldest_first]
        assert created == sorted(created)

    @pytest.mark.anyio
    async def test_list_with_sdk_auto_pagination(self, openai: Any) -> None:
        mine = {(await self.upload(openai, b"auto", f"a{i}.txt", "evals")).id for i in range(3)}
        seen = [f.id async for f in openai.files.list(limit=2)]
        assert len(seen) == len(set(seen)), "auto-pagination returned a file twice"
        assert mine <= set(seen)
        assert seen == [f.id for f in (await openai.files.list(limit=10_000)).data]

    @pytest.mark.anyio
    async def test_list_purpose_filter(self, openai: Any) -> None:
        batch = {(await self.upload(openai, b"{}\n", f"b{i}.jsonl", "batch")).id for i in range(3)}
        other = {
            (await self.upload(openai, b"x", "v.png", "vision")).id,
            (await self.upload(openai, b"y", "f.jsonl", "fine-tune")).id,
        }
        listed = await self.listed(openai, purpose="batch", limit=2)
        assert all(f.purpose == "batch" for f in listed)
        ids = {f.id for f in listed}
        assert batch <= ids and not other & ids
        vision = await openai.files.list(purpose="vision")
        assert {f.purpose for f in vision.data} == {"vision"}

    # -- delete and not found ------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_delete_then_404(self, openai: Any) -> None:
        import openai as sdk

        uploaded = await self.upload(openai, b"short-lived", "gone.txt", "assistants")
        kept = await self.upload(openai, b"stays", "kept.txt", "assistants")
        deleted = await openai.files.delete(uploaded.id)
        assert deleted.id == uploaded.id and deleted.deleted is True and deleted.object == "file"
        with pytest.raises(sdk.NotFoundError):
            await openai.files.retrieve(uploaded.id)
        with pytest.raises(sdk.NotFoundError):
            await openai.files.content(uploaded.id)
        with pytest.raises(sdk.NotFoundError):
            await openai.files.delete(uploaded.id)
        ids = {f.id for f in (await openai.files.list(limit=10_000)).data}
        assert uploaded.id not in ids and kept.id in ids
        assert (await openai.files.content(kept.id)).content == b"stays"

    @pytest.mark.anyio
    async def test_unknown_file_is_404(self, openai: Any, http: Any) -> None:
        import openai as sdk

        for file_id in ("file-" + "0" * 32, "file-does-not-exist", "nonsense"):
            with pytest.raises(sdk.NotFoundError):
                await openai.files.retrieve(file_id)
            with pytest.raises(sdk.NotFoundError):
                await openai.files.content(file_id)
            with pytest.raises(sdk.NotFoundError):
                await openai.files.delete(file_id)
        response = await http.get("/v1/files/file-" + "0" * 32)
        assert response.status_code == 404
        assert response.json()["error"]["message"]

    # -- validation, expiry, size limit --------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_rejects_bad_uploads(self, openai: Any, http: Any) -> None:
        import openai as sdk

        bad = [
            {"purpose": "nonsense"},
            {"purpose": "assistants", "expires_after": {"anchor": "created_at", "seconds": 10}},
            {"purpose": "assistants", "expires_after": {"anchor": "last_active_at", "seconds": 3600}},
        ]
        for params in bad:
            with pytest.raises(sdk.APIStatusError) as raised:
                await openai.files.create(file=("x.txt", b"x"), **params)
            assert raised.value.status_code in (400, 422), params
        missing_file = await http.post("/v1/files", data={"purpose": "assistants"}, files={"other": ("x", b"x")})
        assert missing_file.status_code in (400, 422)
        assert missing_file.json()["error"]["message"]

    @pytest.mark.anyio
    async def test_expiry(self, openai: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        import openai as sdk

        expiring = await self.upload(
            openai, b"soon gone", "tmp.txt", "batch", expires_after={"anchor": "created_at", "seconds": 3600}
        )
        assert expiring.expires_at == expiring.created_at + 3600
        assert (await openai.files.retrieve(expiring.id)).expires_at == expiring.expires_at
        later = await self.upload(
            openai, b"later", "later.txt", "batch", expires_after={"anchor": "created_at", "seconds": 7200}
        )
        forever = await self.upload(openai, b"forever", "forever.txt", "batch")
        assert expiring.id in {f.id for f in (await openai.files.list(limit=10_000)).data}

        self.time_travel(monkeypatch, 3601)
        with pytest.raises(sdk.NotFoundError):
            await openai.files.retrieve(expiring.id)
        with pytest.raises(sdk.NotFoundError):
            await openai.files.content(expiring.id)
        with pytest.raises(sdk.NotFoundError):
            await openai.files.delete(expiring.id)
        ids = {f.id for f in (await openai.files.list(limit=10_000)).data}
        assert expiring.id not in ids and {later.id, forever.id} <= ids
        assert (await openai.files.content(later.id)).content == b"later"

        self.time_travel(monkeypatch, 7201)
        with pytest.raises(sdk.NotFoundError):
            await openai.files.content(later.id)
        assert (await openai.files.content(forever.id)).content == b"forever"

    @pytest.mark.anyio
    async def test_upload_over_the_limit_is_413(self, openai: Any) -> None:
        import openai as sdk

        limit = self.max_upload_bytes
        if limit is None:
            pytest.skip("max_upload_bytes is not set for this provider config")
        before = {f.id for f in (await openai.files.list(limit=10_000)).data}
        with pytest.raises(sdk.APIStatusError) as raised:
            await self.upload(openai, binary_payload(limit + 1), "big.bin", "user_data")
        assert raised.value.status_code == 413
        assert {f.id for f in (await openai.files.list(limit=10_000)).data} == before
        exact = await self.upload(openai, binary_payload(limit), "exact.bin", "user_data")
        assert exact.bytes == limit
        assert (await openai.files.content(exact.id)).content == binary_payload(limit)
        await openai.files.delete(exact.id)
