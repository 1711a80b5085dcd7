"""Authentication overhead: the same chat workload through three ``stack serve`` processes started in one run, auth
off, a static API key, and RS256 JWTs checked against a local JWKS, against a zero-latency upstream.

Two tables: the HTTP one (gateway_overhead.py's load generator and pinning; rounds interleaved so drift on a shared
machine hits every configuration alike; medians of the rounds), and the wrapper's own cost per request measured in
process (no network): a JWT seen before is a cache lookup, a new one is a signature check.

    .venv/bin/python bench/auth_overhead.py [--seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway_overhead as gw

ROOT = gw.ROOT
KEY = "lsk-bench-0123456789abcdefghijklmnopqrstuvwxyz"
AUDIENCE = "llama-stack-bench"


def start_stack(config_path: Path, port: int) -> subprocess.Popen:
    command = [gw.PYTHON, "-m", "llama_stack_core.cli.main", "serve", str(config_path)]
    process = subprocess.Popen(
        ["taskset", "-c", "1", *command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    gw.wait_ok(f"http://127.0.0.1:{port}/v1/health")
    return process


def auth_section(jwks_url: str) -> dict:
    from llama_stack_core.auth.keys import hash_key

    return {
        "api_keys": [{"name": "bench", "key_hash": hash_key(KEY), "roles": ["user"]}],
        "provider_config": {"type": "oauth2_token", "audience": AUDIENCE, "jwks": {"uri": jwks_url}},
    }


def rsa_identity() -> tuple[object, dict]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "bench", "use": "sig"}
    return key, {"keys": [jwk]}


def mint(key: object, **claims: object) -> str:
    import jwt

    now = int(time.time())
    body = {"sub": "bench-user", "aud": AUDIENCE, "iat": now, "exp": now + 3600, "groups": ["a", "b"], **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "bench"})


def in_process_costs(jwks_url: str, key: object, n: int = 20_000) -> list[tuple[str, str]]:
    """Microseconds per request the auth wrapper adds, called as ASGI with an app that does nothing."""
    from llama_stack_core.auth.authenticator import Authenticator
    from llama_stack_core.auth.config import AuthConfig
    from llama_stack_core.auth.middleware import AuthMiddleware

    async def nothing(scope, receive, send) -> None:
        return None

    async def measure() -> list[tuple[str, str]]:
        config = AuthConfig.model_validate(auth_section(jwks_url))
        uncached = config.model_copy(deep=True)
        uncached.provider_config.cache_seconds = 0
        rows = []
        token = mint(key)
        fresh = [mint(key, jti=str(i)) for i in range(2000)]
        for label, settings, bearer in (
            ("static key", config, [KEY]),
            ("JWT, seen before (cached)", config, [token]),
            ("JWT, new each time (RS256 verify)", uncached, fresh),
        ):
            app = AuthMiddleware(nothing, Authenticator(settings), ["/v1/health"])
            scopes = [
                {"type": "http", "path": "/v1/models", "headers": [(b"authorization", f"Bearer {t}".encode())]}
                for t in bearer
            ]
            bare = {"type": "http", "path": "/v1/models", "headers": []}
            await app(scopes[0], None, None)  # JWKS fetched here, outside the timing
            count = n if len(scopes) == 1 else len(scopes)
            began = time.perf_counter()
            for i in range(count):
                await app(scopes[i % len(scopes)], None, None)
            spent = time.perf_counter() - began
            began = time.perf_counter()
            for _ in range(count):
                await nothing(bare, None, None)
            base = time.perf_counter() - began
            rows.append((label, f"{(spent - base) / count * 1e6:.1f}"))
            await app.authenticator.close()
        return rows

    return asyncio.run(measure())


def main() -> None:
    gw.use_default_sampling()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()

    from llama_stack_core.testing.scripted import Reply, ScriptedServer

    key, jwks = rsa_identity()
    idp = ScriptedServer(respond=lambda request: Reply(json=jwks))
    upstream_port = gw.free_port()
    upstream = subprocess.Popen(["taskset", "-c", "0", gw.PYTHON, str(ROOT / "bench/upstream.py"), str(upstream_port)])
    direct = f"http://127.0.0.1:{upstream_port}/v1"
    gw.wait_ok(f"{direct}/models")
    workdir = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    stacks: dict[str, subprocess.Popen] = {}
    token = mint(key)
    variants = {
        "auth off": (None, {}),
        "static API key": ("on", {"Authorization": f"Bearer {KEY}"}),
        "JWT (RS256, JWKS)": ("on", {"Authorization": f"Bearer {token}"}),
    }
    results: dict[str, list[dict]] = {name: [] for name in variants}
    with idp:
        jwks_url = f"http://127.0.0.1:{idp.port}/jwks"
        try:
            ports = {}
            for name, (auth, _) in variants.items():
                config = {
                    "version": 2,
                    "distro_name": "bench",
                    "providers": {
                        "inference": [
                            {
                                "provider_id": "up",
                                "provider_type": "remote::openai",
                                "config": {"api_key": "k", "base_url": direct},
                            }
                        ]
                    },
                    "storage": {
                        "backends": {"kv": {"type": "kv_sqlite", "db_path": str(workdir / f"{len(ports)}.db")}},
                        "stores": {"metadata": {"backend": "kv", "namespace": "registry"}},
                    },
                    "models": [{"model_id": "bench-llm", "provider_id": "up"}],
                    "server": {"auth": auth_section(jwks_url)} if auth else {},
                }
                path = workdir / f"run-{len(ports)}.yaml"
                path.write_text(yaml.safe_dump(config))
                ports[name] = gw.free_port()
                stacks[name] = start_stack(path, ports[name])
            for name, (_, headers) in variants.items():  # warm-up (and the JWKS fetch)
                gw.run_load(f"http://127.0.0.1:{ports[name]}/v1", "/chat/completions", gw.CHAT, 4, 0.5, headers=headers)
            for _ in range(args.rounds):
                for name, (_, headers) in variants.items():
                    base = f"http://127.0.0.1:{ports[name]}/v1"
                    load = gw.run_load(
                        base, "/chat/completions", gw.CHAT, args.concurrency, args.seconds, headers=headers
                    )
                    results[name].append(load)
        finally:
            for process in stacks.values():
                gw.stop(process)
            upstream.terminate()
        micro = in_process_costs(jwks_url, key)

    off = statistics.median(r["p50"] for r in results["auth off"])
    rows = []
    for name, loads in results.items():
        p50 = statistics.median(r["p50"] for r in loads)
        rows.append(
            (
                name,
                str(args.concurrency),
                f"{statistics.median(r['rps'] for r in loads):.0f}",
                f"{p50:.3f}",
                f"{statistics.median(r['p99'] for r in loads):.3f}",
                "-" if name == "auth off" else f"{p50 - off:+.3f}",
                ", ".join(f"{r['p50']:.3f}" for r in loads),
                str(sum(r["errors"] for r in loads)),
            )
        )
    print(f"chat completions through stack serve, {args.rounds} interleaved rounds of {args.seconds:.0f} s each\n")
    gw.print_table(("auth", "conc", "req/s", "p50 ms", "p99 ms", "added p50 ms", "p50 per round", "errors"), rows)
    print("\nthe auth wrapper alone, in process (µs per request)\n")
    gw.print_table(("credential", "µs"), micro)
    print(f"\n(machine: {os.cpu_count()} cores, shared; stacks on core 1, load and upstream on core 0)")


if __name__ == "__main__":
    main()
