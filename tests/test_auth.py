"""``server.auth``: static keys, JWTs checked against a JWKS served by a local HTTP server, a shared HS256 key, token
introspection, the 401 contract on every route, and the caller visible to the request as ``current_principal()``."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from stack_test_plugin import echo_providers, recorder_providers

from llama_stack_core.auth.keys import hash_key
from llama_stack_core.request_context import current_principal
from llama_stack_core.testing.harness import make_run_config, stack_client
from llama_stack_core.testing.scripted import RecordedRequest, Reply, ScriptedServer

pytestmark = pytest.mark.anyio

ISSUER = "https://idp.test"
AUDIENCE = "llama-stack-test"
ALICE_KEY = "lsk-alice-0123456789abcdefghijklmnop"
EXPIRED_KEY = "lsk-old-0123456789abcdefghijklmnopqr"
OPAQUE = {
    "opaque-active-token-1": {"active": True, "sub": "carol", "groups": ["ops"]},
    "opaque-revoked": {"active": False},
}
CLIENT = ("stack", "introspection-secret")
HS_SECRET = "s" * 40


class IdentityProvider:
    """A local identity provider: ``/jwks`` publishes the current public keys, ``/introspect`` answers RFC 7662."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.server = ScriptedServer(respond=self._respond)
        self.rotate("k1")

    def rotate(self, kid: str, keep_old: bool = True) -> None:
        if not keep_old:
            self.keys.clear()
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def _respond(self, request: RecordedRequest) -> Reply:
        if request.path == "/jwks":
            keys = [
                {**jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key(), as_dict=True), "kid": kid, "use": "sig"}
                for kid, k in self.keys.items()
            ]
            return Reply(json={"keys": keys})
        if request.path == "/introspect":
            expected = "Basic " + base64.b64encode(":".join(CLIENT).encode()).decode()
            if request.headers.get("authorization") != expected:
                return Reply(status=401, json={"error": "invalid_client"})
            token = dict(httpx.QueryParams(request.body.decode()))["token"]
            return Reply(json={**OPAQUE.get(token, {"active": False}), "exp": int(time.time()) + 300})
        return Reply(status=404, json={})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def fetches(self) -> int:
        return sum(r.path == "/jwks" for r in self.server.requests)

    def token(self, kid: str = "k1", headers: dict[str, Any] | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"sub": "bob", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, "groups": ["red"], **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid, **(headers or {})})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    with provider.server:
        yield provider


def auth_config(idp: IdentityProvider, **provider: Any) -> dict[str, Any]:
    return {
        "api_keys": [
            {"name": "alice", "key_hash": hash_key(ALICE_KEY), "roles": ["admin"], "teams": ["blue"]},
            {"name": "old", "key_hash": hash_key(EXPIRED_KEY), "expires_at": "2020-01-01T00:00:00Z"},
        ],
        "provider_config": {
            "type": "oauth2_token",
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "jwks": {"uri": f"{idp.url}/jwks", "unknown_kid_refetch_seconds": 0},
            "introspection": {"url": f"{idp.url}/introspect", "client_id": CLIENT[0], "client_secret": CLIENT[1]},
            **provider,
        },
    }


def stack_config(tmp_path, auth: dict[str, Any] | None) -> dict[str, Any]:
    return make_run_config(
        {"inference": echo_providers("alpha"), **recorder_providers()},
        tmp_path,
        models=[{"model_id": "chat-model", "provider_id": "alpha", "provider_model_id": "llm"}],
        server={"auth": auth} if auth is not None else {},
    )


@pytest.fixture
async def client(tmp_path, pm, idp) -> AsyncIterator[httpx.AsyncClient]:
    async with stack_client(stack_config(tmp_path, auth_config(idp)), pm) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: httpx.Response, reason: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "authentication_error"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="llama-stack"')
    if reason is not None:
        assert 'error="invalid_token"' in challenge and reason in response.json()["error"]["message"]


async def test_public_paths_answer_without_credentials_and_the_rest_needs_them(client):
    assert (await client.get("/v1/health")).json() == {"status": "OK"}
    assert (await client.get("/v1/version")).status_code == 200
    for path in ("/v1/models", "/openapi.json", "/v1/no-such-route", "/v1/providers"):
        assert_refused(await client.get(path))
    assert_refused(await client.get("/v1/models", headers={"Authorization": "Basic YWxpY2U6eA=="}))
    assert_refused(await client.get("/v1/models", headers=bearer("not-a-key")), "not active")


async def test_static_keys_are_stored_hashed_and_expire(tmp_path, pm, idp, client):
    answer = await client.get("/v1/models", headers=bearer(ALICE_KEY))
    assert answer.status_code == 200 and "chat-model" in {m["id"] for m in answer.json()["data"]}
    assert_refused(await client.get("/v1/models", headers=bearer(EXPIRED_KEY)), "expired")
    assert ALICE_KEY not in str(client.app.state.stack.config.model_dump())  # type: ignore[attr-defined]
    who = await client.app.authenticator.authenticate(ALICE_KEY)  # type: ignore[attr-defined]
    assert (who.user, who.roles, who.teams, who.method) == ("alice", ("admin",), ("blue",), "api_key")


async def test_jwts_from_the_jwks_are_accepted_with_claims_mapped(client, idp):
    token = idp.token(team="blue", project="p1")
    answer = await client.post(
        "/v1/chat/completions",
        headers=bearer(token),
        json={"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "alpha:llm: hi"
    who = await client.app.authenticator.authenticate(token)  # type: ignore[attr-defined]
    assert who.user == "bob" and who.method == "jwt"
    assert who.roles == ("bob",) and who.teams == ("red", "blue") and who.attributes["projects"] == ("p1",)


def _unsigned(idp: IdentityProvider) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT","kid":"k1"}').rstrip(b"=").decode()
    now = int(time.time())
    claims = f'{{"sub":"eve","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{now + 300}}}'.encode()
    return f"{header}.{base64.urlsafe_b64encode(claims).rstrip(b'=').decode()}."


def _forged(idp: IdentityProvider) -> str:
    """Signed by another key under the published key's id."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": "eve", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 300}
    return jwt.encode(claims, other, algorithm="RS256", headers={"kid": "k1"})


def _hmac_with_public_key(idp: IdentityProvider) -> str:
    """The old algorithm confusion: HS256 keyed with the RSA public key's PEM."""
    pem = (
        idp.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"k1"}').rstrip(b"=")
    now = int(time.time())
    body = base64.urlsafe_b64encode(f'{{"sub":"eve","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{now + 300}}}'.encode())
    signing_input = header + b"." + body.rstrip(b"=")
    import hashlib
    import hmac

    signature = base64.urlsafe_b64encode(hmac.new(pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda idp: idp.token(exp=int(time.time()) - 120), "expired"),
        (lambda idp: idp.token(iss="https://elsewhere.test"), "another issuer"),
        (lambda idp: idp.token(aud="some-other-api"), "another audience"),
        (lambda idp: idp.token(exp=None), "invalid token"),
        (_forged, "signature"),
        (_unsigned, "not accepted"),
        (_hmac_with_public_key, "not accepted"),
        (lambda idp: idp.token()[:-8] + "AAAAAAAA", "signature"),
    ],
    ids=[
        "expired",
        "wrong-issuer",
        "wrong-audience",
        "no-exp",
        "bad-signature",
        "alg-none",
        "hs256-confusion",
        "tampered",
    ],
)
async def test_bad_jwts_are_refused(client, idp, make, reason):
    assert_refused(await client.get("/v1/models", headers=bearer(make(idp))), reason)


async def test_a_rotated_key_is_picked_up_and_unknown_kids_refetch_at_a_bounded_rate(client, idp):
    assert (await client.get("/v1/models", headers=bearer(idp.token()))).status_code == 200
    assert idp.fetches() == 1
    idp.rotate("k2", keep_old=False)
    rotated = idp.token("k2")
    assert (await client.get("/v1/models", headers=bearer(rotated))).status_code == 200
    assert idp.fetches() == 2
    # the same token again: remembered, no signature check and no fetch
    assert (await client.get("/v1/models", headers=bearer(rotated))).status_code == 200
    assert idp.fetches() == 2
    jwks = client.app.authenticator.jwt.jwks  # type: ignore[attr-defined]
    jwks.config = jwks.config.model_copy(update={"unknown_kid_refetch_seconds": 3600})
    fake = jwt.encode(
        {"sub": "eve", "exp": int(time.time()) + 60}, idp.keys["k2"], algorithm="RS256", headers={"kid": "zz"}
    )
    for _ in range(5):
        assert_refused(await client.get("/v1/models", headers=bearer(fake)), "unknown key")
    assert idp.fetches() == 2  # no refetch within the period, however many tokens name unknown keys


async def test_opaque_tokens_are_introspected_and_active_answers_cached(client, idp):
    for _ in range(3):
        assert (await client.get("/v1/models", headers=bearer("opaque-active-token-1"))).status_code == 200
    assert sum(r.path == "/introspect" for r in idp.server.requests) == 1
    body = idp.server.requests[-1].body.decode()
    assert "opaque-active-token-1" in body and "token_type_hint=access_token" in body
    who = await client.app.authenticator.authenticate("opaque-active-token-1")  # type: ignore[attr-defined]
    assert (who.user, who.teams, who.method) == ("carol", ("ops",), "introspection")
    assert_refused(await client.get("/v1/models", headers=bearer("opaque-revoked")), "not active")


async def test_an_unreachable_identity_provider_is_503_not_500(tmp_path, pm):
    from llama_stack_core.testing.harness import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    auth = {"provider_config": {"type": "oauth2_token", "audience": AUDIENCE, "jwks": {"uri": f"{dead}/jwks"}}}
    async with stack_client(stack_config(tmp_path, auth), pm) as client:
        token = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, rsa.generate_private_key(65537, 2048), "RS256")
        answer = await client.get("/v1/models", headers=bearer(token))
        assert answer.status_code == 503 and "cannot be fetched" in answer.json()["error"]["message"]


async def test_a_shared_hs256_key(tmp_path, pm):
    auth = {"provider_config": {"type": "oauth2_token", "audience": AUDIENCE, "shared_secret": HS_SECRET}}
    async with stack_client(stack_config(tmp_path, auth), pm) as client:
        claims = {"sub": "dan", "aud": AUDIENCE, "exp": int(time.time()) + 60}
        assert (
            await client.get("/v1/models", headers=bearer(jwt.encode(claims, HS_SECRET, "HS256")))
        ).status_code == 200
        assert_refused(
            await client.get("/v1/models", headers=bearer(jwt.encode(claims, "x" * 40, "HS256"))), "signature"
        )


async def test_every_non_public_route_refuses_an_unauthenticated_request(client):
    document = (await client.get("/openapi.json", headers=bearer(ALICE_KEY))).json()
    checked = 0
    for path, operations in document["paths"].items():
        concrete = path.replace("{", "").replace("}", "").replace(":path", "")  # /v1/models/model_id: any value
        for method in operations:
            response = await client.request(method.upper(), concrete, json={})
            if path in ("/v1/health", "/v1/version"):
                assert response.status_code == 200
                continue
            assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
            assert response.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    assert checked > 100  # every API's routes, not a handful


async def test_the_caller_is_the_current_principal_for_the_whole_reply_streams_included(tmp_path, pm):
    from llama_stack_core.auth.authenticator import Authenticator
    from llama_stack_core.auth.config import AuthConfig
    from llama_stack_core.auth.middleware import AuthMiddleware

    seen: list[str | None] = []

    async def streaming_app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            who = current_principal()
            seen.append(who.user if who else None)
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    config = AuthConfig.model_validate({"api_keys": [{"name": "alice", "key_hash": hash_key(ALICE_KEY)}]})
    app = AuthMiddleware(streaming_app, Authenticator(config), ["/v1/health"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/s", headers=bearer(ALICE_KEY))).text == "xxx"
        assert (await c.get("/v1/health")).status_code == 200
    assert seen == ["alice"] * 3 + [None] * 3
    assert current_principal() is None


async def test_streaming_and_sdks_with_an_api_key(client):
    import llama_stack_client
    import openai

    def sdk_http() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=client.app)  # type: ignore[attr-defined]
        return httpx.AsyncClient(transport=transport, base_url="http://stack")  # the app in this process, no sockets

    sdk = openai.AsyncOpenAI(base_url="http://stack/v1", api_key=ALICE_KEY, http_client=sdk_http())
    stream = await sdk.chat.completions.create(
        model="chat-model", messages=[{"role": "user", "content": "a b c"}], stream=True
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream]) == "alpha:llm: a b c"
    wrong = openai.AsyncOpenAI(base_url="http://stack/v1", api_key="lsk-wrong", http_client=sdk_http())
    with pytest.raises(openai.AuthenticationError):
        await wrong.chat.completions.create(
            model="chat-model", messages=[{"role": "user", "content": "x"}], stream=True
        )
    with pytest.raises(openai.AuthenticationError):
        await wrong.models.list()

    stack = llama_stack_client.AsyncLlamaStackClient(base_url="http://stack", api_key=ALICE_KEY, http_client=sdk_http())
    assert "chat-model" in {m.identifier for m in await stack.models.list()}
    anonymous = llama_stack_client.AsyncLlamaStackClient(base_url="http://stack", http_client=sdk_http())
    assert (await anonymous.inspect.health()).status == "OK"
    with pytest.raises(llama_stack_client.AuthenticationError):
        await anonymous.models.list()


async def test_auth_off_leaves_the_app_unwrapped(tmp_path, pm):
    from llama_stack_core.auth.middleware import AuthMiddleware

    async with stack_client(stack_config(tmp_path, None), pm) as client:
        assert not isinstance(client.app.http, AuthMiddleware)  # type: ignore[attr-defined]
        assert (await client.get("/v1/models")).status_code == 200
