"""Transport: ``stack serve`` over TLS and mutual TLS (certificates made by the test), CORS off by default and
answered for listed origins, and the warning for an open bind with no auth."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from stack_test_plugin import echo_providers

from llama_stack_core.cli.serve import tls_options, warn_if_open
from llama_stack_core.config.loader import parse_run_config
from llama_stack_core.errors import ConfigError
from llama_stack_core.testing.harness import make_run_config, serve_command, stack_client, stop_process, wait_for_port
from llama_stack_core.testing.waiting import eventually_sync

# -- certificates --------------------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool, usage=None, ip=None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if ip is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert, key) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    directory = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, _name("test CA"), ca_key, ca=True)
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = _certificate(
        "127.0.0.1", server_key, ca.subject, ca_key, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH, ip="127.0.0.1"
    )
    client = _certificate("a client", client_key, ca.subject, ca_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    ca_cert, _ = _write(directory, "ca", ca, ca_key)
    server_cert, server_key_path = _write(directory, "server", server, server_key)
    client_cert, client_key_path = _write(directory, "client", client, client_key)
    return {
        "ca": ca_cert,
        "server_cert": server_cert,
        "server_key": server_key_path,
        "client_cert": client_cert,
        "client_key": client_key_path,
    }


def _serve_tls(tmp_path: Path, server: dict, plugin_env: dict[str, str]):
    config = make_run_config({"inference": echo_providers("alpha")}, tmp_path, server=server)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    log_path, port_file = tmp_path / "serve.log", tmp_path / "serve.port"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            serve_command(path, port_file), stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **plugin_env}
        )
    port = wait_for_port(process, port_file, log_path)
    return process, f"https://127.0.0.1:{port}"


def _client_context(pki: dict[str, Path], with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if with_cert:
        context.load_cert_chain(str(pki["client_cert"]), str(pki["client_key"]))
    return context


@pytest.mark.slow
def test_serves_https_with_the_configured_certificate(tmp_path, pki, plugin_env):
    server = {"tls_certfile": str(pki["server_cert"]), "tls_keyfile": str(pki["server_key"])}
    process, base = _serve_tls(tmp_path, server, plugin_env)
    try:
        verified = _client_context(pki, with_cert=False)
        health = eventually_sync(
            lambda: _get(f"{base}/v1/health", verified), timeout=30, what=f"{base}/v1/health over TLS"
        )
        assert health.json() == {"status": "OK"}
        with pytest.raises(httpx.ConnectError):  # the system trust store does not know the test CA
            httpx.get(f"{base}/v1/health", timeout=5)
        with pytest.raises(httpx.RemoteProtocolError):  # plain HTTP on the TLS port gets nowhere
            httpx.get(base.replace("https", "http") + "/v1/health", timeout=5)
    finally:
        stop_process(process)


@pytest.mark.slow
def test_mutual_tls_refuses_a_client_without_a_certificate(tmp_path, pki, plugin_env):
    server = {
        "tls_certfile": str(pki["server_cert"]),
        "tls_keyfile": str(pki["server_key"]),
        "tls_client_ca": str(pki["ca"]),
    }
    process, base = _serve_tls(tmp_path, server, plugin_env)
    try:
        with_cert = _client_context(pki, with_cert=True)
        health = eventually_sync(lambda: _get(f"{base}/v1/health", with_cert), timeout=30, what="mTLS health")
        assert health.status_code == 200
        # the handshake fails (with TLS 1.3 the client learns it on its first read)
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(f"{base}/v1/health", verify=_client_context(pki, with_cert=False), timeout=5)
    finally:
        stop_process(process)


def _get(url: str, context: ssl.SSLContext) -> httpx.Response | None:
    try:
        return httpx.get(url, verify=context, timeout=2)
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise
        time.sleep(0.05)
        return None


def test_tls_settings_are_checked(tmp_path, pki):
    def server(**settings):
        return parse_run_config(make_run_config({}, tmp_path, server=settings)).server

    assert tls_options(server()) == {}
    with pytest.raises(ConfigError, match="need server.tls_certfile"):
        tls_options(server(tls_client_ca=str(pki["ca"])))
    with pytest.raises(ConfigError, match="tls_keyfile: no such file"):
        tls_options(server(tls_certfile=str(pki["server_cert"]), tls_keyfile=str(tmp_path / "missing.key")))
    mutual = tls_options(
        server(tls_certfile=str(pki["server_cert"]), tls_keyfile=str(pki["server_key"]), tls_client_ca=str(pki["ca"]))
    )
    assert mutual["ssl_cert_reqs"] == ssl.CERT_REQUIRED and mutual["ssl_ca_certs"] == str(pki["ca"])


# -- the open-bind warning -----------------------------------------------------------------------------------------


def test_serving_every_interface_without_auth_warns(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="llama_stack_core.serve")
    open_config = parse_run_config(make_run_config({}, tmp_path))
    warn_if_open(open_config, "127.0.0.1")
    assert not caplog.records
    warn_if_open(open_config, "0.0.0.0")
    assert len(caplog.records) == 1 and "authentication off" in caplog.records[0].getMessage()
    caplog.clear()
    key = {"name": "ci", "key_hash": "sha256:" + "0" * 64}
    with_auth = parse_run_config(make_run_config({}, tmp_path, server={"auth": {"api_keys": [key]}}))
    warn_if_open(with_auth, "0.0.0.0")
    assert not caplog.records


# -- CORS ----------------------------------------------------------------------------------------------------------

PREFLIGHT = {
    "Origin": "https://app.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, authorization",
}


@pytest.mark.anyio
async def test_cors_is_off_by_default(tmp_path, pm):
    async with stack_client(make_run_config({"inference": echo_providers("alpha")}, tmp_path), pm) as client:
        simple = await client.get("/v1/health", headers={"Origin": "https://app.example"})
        preflight = await client.options("/v1/chat/completions", headers=PREFLIGHT)
    assert simple.status_code == 200
    for response in (simple, preflight):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    assert preflight.status_code in (404, 405)


@pytest.mark.anyio
async def test_listed_origins_get_preflight_answers_and_readable_replies(tmp_path, pm):
    cors = {"allowed_origins": ["https://app.example"], "max_age_seconds": 60}
    config = make_run_config({"inference": echo_providers("alpha")}, tmp_path, server={"cors": cors})
    async with stack_client(config, pm) as client:
        preflight = await client.options("/v1/chat/completions", headers=PREFLIGHT)
        simple = await client.get("/v1/health", headers={"Origin": "https://app.example"})
        other = await client.options("/v1/chat/completions", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        other_simple = await client.get("/v1/health", headers={"Origin": "https://evil.example"})
        no_origin = await client.get("/v1/health")
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert preflight.headers["access-control-max-age"] == "60"
    assert "access-control-allow-credentials" not in preflight.headers
    assert simple.status_code == 200 and simple.headers["access-control-allow-origin"] == "https://app.example"
    assert other.status_code == 403 and other.json()["error"]["type"] == "cors_origin_not_allowed"
    for response in (other, other_simple, no_origin):
        assert "access-control-allow-origin" not in response.headers
    assert other_simple.status_code == 200
