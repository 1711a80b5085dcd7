"""A zero-latency OpenAI-compatible upstream for benchmarks: canned chat, stream and embedding answers.

Raw ASGI on uvicorn (httptools, uvloop): it costs as little as an HTTP server can in Python, so what a benchmark
measures above it is the gateway. Run: python bench/upstream.py PORT
"""

from __future__ import annotations

import sys

import orjson

CHAT = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "bench-llm",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The quick brown fox jumps over the lazy dog."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22},
    }
)
CHUNKS = (
    b"".join(
        b"data: "
        + orjson.dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "bench-llm",
                "choices": [{"index": 0, "delta": {"content": f" tok{i}"}, "finish_reason": None}],
            }
        )
        + b"\n\n"
        for i in range(20)
    )
    + b"data: [DONE]\n\n"
)
FIRST_CHUNK, _, REST = CHUNKS.partition(b"\n\n")
EMBEDDING = orjson.dumps(
    {
        "object": "list",
        "model": "bench-embed",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
        "data": [{"object": "embedding", "index": 0, "embedding": [0.01 * i for i in range(384)]}],
    }
)
MODELS = orjson.dumps(
    {"object": "list", "data": [{"id": "bench-llm", "object": "model", "created": 1, "owned_by": "bench"}]}
)
JSON = [(b"content-type", b"application/json")]
SSE = [(b"content-type", b"text/event-stream")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    path = scope["path"]
    if path.endswith("/chat/completions"):
        if b'"stream":true' in body.replace(b" ", b""):
            await send({"type": "http.response.start", "status": 200, "headers": SSE})
            await send({"type": "http.response.body", "body": FIRST_CHUNK + b"\n\n", "more_body": True})
            await send({"type": "http.response.body", "body": REST})
            return
        payload = CHAT
    elif path.endswith("/embeddings"):
        payload = EMBEDDING
    else:
        payload = MODELS
    await send({"type": "http.response.start", "status": 200, "headers": JSON})
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="error",
        access_log=False,
        http="httptools",
        loop="uvloop",
        lifespan="on",
    )
