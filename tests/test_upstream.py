"""The outbound HTTP client's error details: vendor messages in nested shapes, and an error answer's status and
Retry-After kept on the exception (for providers that map vendor statuses themselves)."""

from __future__ import annotations

import pytest

from llama_stack_core.errors import StackError, UpstreamError
from llama_stack_core.upstream import UpstreamClient, vendor_message

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "bad model"}}', "bad model"),
        (b'{"detail": "not found"}', "not found"),
        (b'{"detail": {"error": "Unauthorized: missing or invalid API key."}}', "Unauthorized: missing or invalid"),
        (
            b'{"type": "ErrorResponse", "error": {"code": "RATE_LIMITED", "detail": "Request rate limit exceeded"}}',
            "Request rate limit exceeded",
        ),
        (b"plain text failure", "plain text failure"),
    ],
)
def test_vendor_message_reads_nested_shapes(body: bytes, message: str) -> None:
    assert vendor_message(body).startswith(message)


async def test_error_answer_keeps_status_and_retry_after(scripted) -> None:
    scripted.reply(status=429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "7"})
    scripted.reply(status=503, json={"error": {"message": "overloaded"}})
    client = UpstreamClient(scripted.base_url, name="vendor")
    try:
        with pytest.raises(StackError) as limited:
            await client.request("GET", "things?page=2")
        with pytest.raises(UpstreamError) as down:
            await client.request("GET", "things")
    finally:
        await client.close()
    assert limited.value.status_code == 429 and "slow down" in limited.value.message
    assert (limited.value.upstream_status, limited.value.retry_after) == (429, "7")
    assert (down.value.status_code, down.value.upstream_status, down.value.retry_after) == (502, 503, None)
    assert scripted.requests[0].path == "/v1/things" and scripted.requests[0].params == {"page": "2"}
    assert scripted.requests[1].query == ""
