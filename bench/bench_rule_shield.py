"""Rule shield throughput: messages/s and µs/message for 1 KB and 64 KB messages, clean and with PII, calling the
provider in-process (``run_shield``) and through the HTTP app in-process (ASGI, no sockets: routing, validation and
JSON included). The default shield config (every detector on, no redaction). Prints one table; nothing is asserted.

    .venv/bin/python bench/bench_rule_shield.py [--seconds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from llama_stack_provider_rule_shield import plugin
from llama_stack_provider_rule_shield.config import RuleShieldConfig
from llama_stack_provider_rule_shield.provider import RuleShieldProvider

from llama_stack_core.apis.safety import RunShieldRequest
from llama_stack_core.plugins import PluginManager
from llama_stack_core.testing.harness import provider_run_config, stack_client

WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "for",
    "on",
    "with",
    "as",
    "was",
    "at",
    "by",
    "an",
    "be",
    "this",
    "from",
    "that",
    "have",
    "or",
    "not",
    "are",
    "but",
    "we",
    "they",
    "you",
    "report",
    "meeting",
    "budget",
    "quarter",
    "customer",
    "shipping",
    "order",
    "review",
    "draft",
    "schedule",
    "update",
    "team",
    "project",
    "2024",
    "42",
]
PII = [
    "jane.doe@example.com",
    "+1 415 555 2671",
    "4111 1111 1111 1111",
    "GB82 WEST 1234 5698 7654 32",
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t",
]


def text(size: int, with_pii: bool, seed: int) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(PII) if with_pii and rng.random() < 0.01 else rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


async def main(seconds: float) -> None:
    provider = RuleShieldProvider(RuleShieldConfig())
    cases = [(f"{size // 1024} KB {'PII' if pii else 'clean'}", text(size, pii, size)) for size in (1024, 65536)
             for pii in (False, True)]  # fmt: skip
    loop_requests = {name: RunShieldRequest(shield_id="default", messages=[{"role": "user", "content": body}])
                     for name, body in cases}  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = provider_run_config(Path(tmp), "inline::rule-shield", {}, provider_id="rules", api="safety")
        async with stack_client(config, PluginManager(autoload=False, extra_plugins=[plugin])) as http:
            for name, body in cases:
                request = loop_requests[name]
                started, count = time.perf_counter(), 0
                await provider.run_shield(request)
                while count < 5 or time.perf_counter() - started < seconds:
                    await provider.run_shield(request)
                    count += 1
                inline = (time.perf_counter() - started) / count
                payload = {"shield_id": "rules", "messages": [{"role": "user", "content": body}]}
                started, count = time.perf_counter(), 0
                while count < 5 or time.perf_counter() - started < seconds:
                    response = await http.post("/v1/safety/run-shield", json=payload)
                    assert response.status_code == 200, response.text
                    count += 1
                served = (time.perf_counter() - started) / count
                flagged = (await provider.run_shield(request)).violation is not None
                rows.append((name, flagged, inline, served))
    print(f"{'input':<14}{'flagged':>8}{'in-process msg/s':>18}{'µs/msg':>10}{'HTTP (ASGI) msg/s':>19}{'µs/msg':>10}")
    for name, flagged, inline, served in rows:
        print(f"{name:<14}{flagged!s:>8}{1 / inline:>18,.0f}{inline * 1e6:>10,.0f}{1 / served:>19,.0f}"
              f"{served * 1e6:>10,.0f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    asyncio.run(main(parser.parse_args().seconds))
