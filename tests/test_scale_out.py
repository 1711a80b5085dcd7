"""Scale-out with the postgres distro: one PostgreSQL (the embedded one with pgvector), and on it

- ``stack serve postgres --workers 2`` (server A): requests from several concurrent clients succeed, and what one
  worker registers the other sees at once (each connection is traced to the worker process that accepted it);
- a second ``stack serve postgres`` on another port (server B): models, files, vector stores and traces made on one
  server are used on the other;
- optionally (when an ``nginx`` binary is installed) deploy/nginx.conf in front of A and B.

The deployment examples under deploy/ are checked statically (and with ``kubectl kustomize`` when kubectl exists):
the Kubernetes ConfigMap carries exactly the postgres distro's run config.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from llama_stack_core.testing.fixtures import create_postgres_database
from llama_stack_core.testing.harness import free_port, served_stack, wait_healthy
from llama_stack_core.testing.waiting import eventually_sync

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
POSTGRES_RUN_YAML = ROOT / "distro-specs" / "postgres" / "src" / "llama_stack_distro_postgres" / "run.yaml"
LLM = "gemma-3-270m"
EMBEDDER = "all-MiniLM-L6-v2"


# -- which worker process accepted a connection ---------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found += [int(entry), *_children(int(entry))]
    return found


def _socket_inode(server_port: int, client_port: int) -> str | None:
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def _owner(server_pid: int, server_port: int, client_port: int) -> int | None:
    inode = _socket_inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in _children(server_pid):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


class Pinned:
    """One kept-alive HTTP connection, so every request on it reaches the same worker process."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.conn.connect()
        self.client_port = self.conn.sock.getsockname()[1]
        self.worker: int | None = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers={"content-type": "application/json", **(headers or {})})
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else None)

    def close(self) -> None:
        self.conn.close()


def pinned_to(url: str, server_pid: int, *, avoid: set[int] = frozenset(), want: int | None = None) -> Pinned:
    """A connection accepted by a worker not in ``avoid`` (or by ``want``)."""
    port = int(url.rsplit(":", 1)[1])

    def connect() -> Pinned | None:
        pinned = Pinned(url)
        status, _ = pinned.request("GET", "/v1/health")
        assert status == 200
        pinned.worker = _owner(server_pid, port, pinned.client_port)
        if pinned.worker is not None and pinned.worker not in avoid and want in (None, pinned.worker):
            return pinned
        pinned.close()
        return None

    return eventually_sync(connect, timeout=30, what=f"a connection to a worker not in {avoid} (want {want})")


# -- the servers ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(postgres_uri: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment every server gets: one fresh database, one files directory, one model cache."""
    from psycopg.conninfo import conninfo_to_dict

    dsn = conninfo_to_dict(create_postgres_database(postgres_uri, "scaleout"))
    tmp = tmp_path_factory.mktemp("scale-out")
    # The servers inherit this environment (served_stack): blank what would switch on more providers or plugins.
    drop = ("FIREWORKS_", "TOGETHER_", "OPENAI_", "OLLAMA_", "VLLM_", "LLAMA_STACK_")
    blank = {name: "" for name in os.environ if name.startswith(drop)}
    return {
        **blank,
        "POSTGRES_HOST": str(dsn["host"]),
        "POSTGRES_PORT": str(dsn.get("port") or 5432),
        "POSTGRES_DB": str(dsn["dbname"]),
        "POSTGRES_USER": str(dsn["user"]),
        "POSTGRES_PASSWORD": str(dsn.get("password") or ""),
        "FILES_STORAGE_DIR": str(tmp / "files"),
        "LLAMA_STACK_MODEL_CACHE": str(tmp / "models"),
        "LLAMA_CPP_N_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "SENTENCE_TRANSFORMERS_THREADS": "1",
        "TRACE_STORE_RETENTION_DAYS": "1",
    }


def _server_pid(port: int) -> int:
    """The ``stack serve`` process listening on ``port`` (the parent of the workers)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # LISTEN
            inode = fields[9]
            break
    else:
        raise AssertionError(f"nothing listens on {port}")
    owners = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") == f"socket:[{inode}]" for fd in fds):
                owners[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    (supervisor,) = [pid for pid, parent in owners.items() if parent not in owners]  # workers inherit the socket
    return supervisor


def _wait_models_loaded(url: str, timeout: float = 180) -> None:
    def embedded() -> bool:
        response = httpx.post(f"{url}/v1/embeddings", json={"model": EMBEDDER, "input": "warm up"}, timeout=120)
        assert response.status_code == 200, response.text
        return True

    eventually_sync(embedded, timeout=timeout, interval=0.5, what=f"{url}: embeddings")


@pytest.fixture(scope="module")
def servers(shared: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Server A (two workers) and server B (one process) on the same database."""
    logs = tmp_path_factory.mktemp("scale-out-logs")
    with ExitStack() as stack:
        a = stack.enter_context(served_stack("postgres", logs, env=shared, extra_args=["--workers", "2"], timeout=180))
        b = stack.enter_context(served_stack("postgres", logs, env=shared, timeout=180))
        a_pid = _server_pid(int(a.rsplit(":", 1)[1]))
        # both workers up: a connection reaches one that is not the first
        first = pinned_to(a, a_pid)
        second = pinned_to(a, a_pid, avoid={first.worker})
        for pinned in (first, second):
            pinned.close()
        _wait_models_loaded(b)
        for worker in (first.worker, second.worker):
            conn = pinned_to(a, a_pid, want=worker)
            status, body = conn.request("POST", "/v1/embeddings", {"model": EMBEDDER, "input": "warm"})
            conn.close()
            assert status == 200, body
        yield {"a": a, "b": b, "a_pid": a_pid, "workers": (first.worker, second.worker)}


def _chat(model: str, text: str = "Hello") -> dict[str, Any]:
    return {"model": model, "max_tokens": 4, "messages": [{"role": "user", "content": text}]}


@pytest.mark.slow
@pytest.mark.postgres
def test_workers_see_each_others_registrations_at_once(servers):
    a, a_pid = servers["a"], servers["a_pid"]
    one = pinned_to(a, a_pid)
    two = pinned_to(a, a_pid, avoid={one.worker})
    try:
        assert one.worker != two.worker
        alias = f"alias-{uuid.uuid4().hex[:8]}"
        status, body = one.request(
            "POST", "/v1/models", {"model_id": alias, "provider_id": "llama-cpp", "provider_model_id": LLM}
        )
        assert status == 200, body
        status, body = two.request("GET", f"/v1/models/{alias}")
        assert (status, body["provider_resource_id"]) == (200, LLM), body
        status, listed = two.request("GET", "/v1/models")
        assert alias in {m["id"] for m in listed["data"]}
        status, body = two.request("POST", "/v1/chat/completions", _chat(alias))
        assert status == 200, body
        assert body["usage"]["completion_tokens"] > 0
        status, body = two.request("POST", "/v1/models", {"model_id": alias, "provider_id": "llama-cpp"})
        assert status == 409, body

        status, store = two.request("POST", "/v1/vector_stores", {"name": "from-worker-two"})
        assert status == 200, store
        status, body = one.request("GET", f"/v1/vector_stores/{store['id']}")
        assert (status, body["name"]) == (200, "from-worker-two"), body

        status, _ = two.request("DELETE", f"/v1/models/{alias}")
        assert status == 200
        status, body = one.request("GET", f"/v1/models/{alias}")
        assert status == 404, body
        status, body = one.request("DELETE", f"/v1/vector_stores/{store['id']}")
        assert status == 200, body
        status, body = two.request("GET", f"/v1/vector_stores/{store['id']}")
        assert status == 404, body
    finally:
        one.close()
        two.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_clients_across_workers(servers):
    a, a_pid = servers["a"], servers["a_pid"]
    workers = servers["workers"]
    run = uuid.uuid4().hex[:6]

    def client(index: int) -> tuple[int, list[tuple[str, int]]]:
        pinned = pinned_to(a, a_pid, want=workers[index % 2])
        failures = []
        try:
            for i in range(5):
                model_id = f"c{run}-{index}-{i}"
                steps = [
                    (
                        "POST",
                        "/v1/models",
                        {"model_id": model_id, "provider_id": "llama-cpp", "provider_model_id": LLM},
                    ),
                    ("GET", f"/v1/models/{model_id}", None),
                    ("POST", "/v1/embeddings", {"model": EMBEDDER, "input": [f"text {index} {i}", "more"]}),
                    ("GET", "/v1/models", None),
                ]
                if i % 2 == 0:
                    steps.append(("POST", "/v1/chat/completions", _chat(model_id, f"client {index}")))
                for method, path, body in steps:
                    status, answer = pinned.request(method, path, body)
                    if status != 200:
                        failures.append((f"{method} {path}: {answer}", status))
            return pinned.worker, failures
        finally:
            pinned.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(client, range(8)))
    assert {worker for worker, _ in results} == set(workers), "both workers served clients"
    assert [f for _, failures in results for f in failures] == []
    # every registration, from whichever worker, is visible from each worker and from server B
    expected = {f"c{run}-{index}-{i}" for index in range(8) for i in range(5)}
    for worker in workers:
        pinned = pinned_to(a, a_pid, want=worker)
        _status, listed = pinned.request("GET", "/v1/models")
        pinned.close()
        assert expected <= {m["id"] for m in listed["data"]}
    listed_b = httpx.get(f"{servers['b']}/v1/models", timeout=30).json()["data"]
    assert expected <= {m["id"] for m in listed_b}


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_share_models_files_vector_stores_and_traces(servers):
    a, b = servers["a"], servers["b"]
    with httpx.Client(base_url=a, timeout=120) as on_a, httpx.Client(base_url=b, timeout=120) as on_b:
        # a model registered on A answers on B
        alias = f"shared-{uuid.uuid4().hex[:8]}"
        assert (
            on_a.post(
                "/v1/models", json={"model_id": alias, "provider_id": "llama-cpp", "provider_model_id": LLM}
            ).status_code
            == 200
        )
        chat = on_b.post("/v1/chat/completions", json=_chat(alias))
        assert chat.status_code == 200, chat.text

        # a file uploaded on A, a vector store created on A with the file attached on A ...
        secret = f"The shared vault code is XK-{uuid.uuid4().hex[:6].upper()}-ZETA."
        text = f"{secret}\n\nPostgreSQL holds the registry, the vectors and the file metadata for every server.\n"
        uploaded = on_a.post(
            "/v1/files", files={"file": ("vault.txt", text.encode(), "text/plain")}, data={"purpose": "assistants"}
        )
        assert uploaded.status_code == 200, uploaded.text
        file_id = uploaded.json()["id"]
        store = on_a.post("/v1/vector_stores", json={"name": "shared-docs"})
        assert store.status_code == 200, store.text
        store_id = store.json()["id"]
        attached = on_a.post(f"/v1/vector_stores/{store_id}/files", json={"file_id": file_id})
        assert attached.status_code == 200, attached.text

        def ingested() -> str | None:
            status = on_b.get(f"/v1/vector_stores/{store_id}/files/{file_id}").json()["status"]
            return None if status == "in_progress" else status

        assert eventually_sync(ingested, timeout=120, interval=0.3, what="ingestion") == "completed"

        # ... are all there on B: the file, its bytes, the store, and search finds the text
        assert on_b.get(f"/v1/files/{file_id}").json()["filename"] == "vault.txt"
        assert on_b.get(f"/v1/files/{file_id}/content").content == text.encode()
        assert store_id in {s["id"] for s in on_b.get("/v1/vector_stores").json()["data"]}
        for mode in ("vector", "keyword", "hybrid"):
            found = on_b.post(
                f"/v1/vector_stores/{store_id}/search",
                json={
                    "query": "What is the shared vault code?" if mode == "vector" else secret,
                    "search_mode": mode,
                    "max_num_results": 3,
                },
            )
            assert found.status_code == 200, found.text
            hits = found.json()["data"]
            assert hits and secret in hits[0]["content"][0]["text"], (mode, hits)
            assert hits[0]["file_id"] == file_id

        # a request traced on A can be read back from B's telemetry API
        trace_id = uuid.uuid4().hex
        traced = on_a.get("/v1/models", headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"})
        assert traced.status_code == 200

        def stored_trace() -> dict[str, Any]:
            trace = on_b.get(f"/v1/telemetry/traces/{trace_id}")
            assert trace.status_code == 200, trace.text
            return trace.json()

        assert eventually_sync(stored_trace, timeout=30, interval=0.3, what="the trace on B")["trace_id"] == trace_id

        # deleting on B is seen on A
        assert on_b.delete(f"/v1/vector_stores/{store_id}").status_code == 200
        assert on_a.get(f"/v1/vector_stores/{store_id}").status_code == 404
        assert on_b.delete(f"/v1/files/{file_id}").status_code == 200
        assert on_a.get(f"/v1/files/{file_id}").status_code == 404


# -- nginx in front (only where an nginx binary exists) --------------------------------------------------------------


def _nginx_config(upstreams: list[str], port: int, directory: Path) -> Path:
    """deploy/nginx.conf with its example upstream servers and listen port replaced."""
    text = (DEPLOY / "nginx.conf").read_text()
    servers = "".join(f"        server {u.removeprefix('http://')};\n" for u in upstreams)
    text = re.sub(r"^\s*server 127\.0\.0\.1:\d+[^;]*;\n", "", text, flags=re.M)  # the example's upstreams
    text = re.sub(r"^(\s*keepalive \d+;)", lambda m: servers + m.group(1), text, count=1, flags=re.M)
    text = re.sub(r"listen\s+\d+;", f"listen 127.0.0.1:{port};", text)
    text = text.replace("/var/run/nginx.pid", str(directory / "nginx.pid"))
    temp = "".join(
        f"    {kind}_temp_path {directory / 'temp' / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp, 1)
    for name in ("access_log", "error_log"):
        text = re.sub(rf"{name}\s+[^;]+;", f"{name} {directory / (name + '.log')};", text)
    path = directory / "nginx.conf"
    path.write_text(text)
    return path


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("nginx") is None, reason="no nginx binary on this machine")
def test_nginx_in_front_of_two_servers(servers, tmp_path):
    port = free_port()
    config = _nginx_config([servers["a"], servers["b"]], port, tmp_path)
    (tmp_path / "temp").mkdir()
    nginx = [shutil.which("nginx"), "-c", str(config), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
    checked = subprocess.run([*nginx, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*nginx, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, tmp_path / "error.log", timeout=10)
        alias = f"lb-{uuid.uuid4().hex[:8]}"
        with httpx.Client(base_url=url, timeout=120) as client:
            assert (
                client.post(
                    "/v1/models", json={"model_id": alias, "provider_id": "llama-cpp", "provider_model_id": LLM}
                ).status_code
                == 200
            )
            for _ in range(6):  # round robin over both servers
                assert client.get(f"/v1/models/{alias}").status_code == 200
            with client.stream(
                "POST", "/v1/chat/completions", json={**_chat(alias), "stream": True, "max_tokens": 8}
            ) as streamed:
                assert streamed.status_code == 200
                assert streamed.headers["content-type"].startswith("text/event-stream")
                events = [line for line in streamed.iter_lines() if line.startswith("data: ")]
            chunks = [json.loads(line.removeprefix("data: ")) for line in events]
            assert len(chunks) >= 3 and chunks[-1]["choices"][0]["finish_reason"] == "length"
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- the deployment examples, statically -----------------------------------------------------------------------------


def _manifests() -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found.setdefault(doc["kind"], []).append(doc)
    return found


def test_kubernetes_example_serves_the_postgres_distro_config():
    manifests = _manifests()
    assert {"Deployment", "Service", "ConfigMap", "Secret"} <= set(manifests)
    (deployment,) = [d for d in manifests["Deployment"] if d["metadata"]["name"] == "llama-stack"]
    (config_map,) = [c for c in manifests["ConfigMap"] if c["metadata"]["name"] == "llama-stack-run-config"]
    (secret,) = [s for s in manifests["Secret"] if s["metadata"]["name"] == "llama-stack-secrets"]
    (service,) = [s for s in manifests["Service"] if s["metadata"]["name"] == "llama-stack"]

    # the ConfigMap carries the postgres distro's run config, unchanged
    assert yaml.safe_load(config_map["data"]["run.yaml"]) == yaml.safe_load(POSTGRES_RUN_YAML.read_text())
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_volume = next(
        n for n, v in volumes.items() if v.get("configMap", {}).get("name") == config_map["metadata"]["name"]
    )
    assert container["args"][:3] == ["stack", "serve", f"{mounts[config_volume]}/run.yaml"]
    # every secret the pod reads exists, and every API key of the run config can come from the Secret
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    env = {e["name"]: e for e in container.get("env", [])}
    for item in container.get("envFrom", []):
        if "secretRef" in item:
            assert item["secretRef"]["name"] == secret["metadata"]["name"]
            env.update({k: {"name": k} for k in secret_keys})
    for name, entry in env.items():
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret_keys, name
    run_yaml_text = POSTGRES_RUN_YAML.read_text()
    for secret_var in re.findall(r"\$\{env\.([A-Z_]*(?:API_KEY|PASSWORD))", run_yaml_text):
        assert secret_var in env, f"the pod does not set {secret_var}"
    for variable in ("POSTGRES_HOST", "POSTGRES_DB", "POSTGRES_USER", "FILES_STORAGE_DIR"):
        assert variable in env, variable
    # uploaded files live on a volume every replica mounts
    files_dir = env["FILES_STORAGE_DIR"]["value"]
    files_volume = next(n for n, p in mounts.items() if files_dir.startswith(p))
    claim = volumes[files_volume]["persistentVolumeClaim"]["claimName"]
    (pvc,) = [c for c in manifests["PersistentVolumeClaim"] if c["metadata"]["name"] == claim]
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    # probes and the Service reach the stack's port
    (port,) = container["ports"]
    assert port["containerPort"] == 8321
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/v1/health"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert any(p["targetPort"] in (8321, port.get("name")) for p in service["spec"]["ports"])


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())
    files = {p.name for p in (DEPLOY / "kubernetes").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl to render the kustomization")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "kubernetes")], capture_output=True, text=True, timeout=60
    )
    assert rendered.returncode == 0, rendered.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered.stdout) if doc}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim"} <= kinds


def test_nginx_example_is_sse_friendly():
    text = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream llama_stack \{(.*?)\}", text, re.S)
    assert upstream and len(re.findall(r"^\s*server\s", upstream.group(1), re.M)) >= 2
    for directive in (
        "proxy_buffering off",
        "proxy_cache off",
        "proxy_http_version 1.1",
        "proxy_read_timeout",
        "client_max_body_size",
    ):
        assert directive in text, directive
    assert "proxy_pass http://llama_stack" in text


def test_deploy_readme_covers_every_example_and_says_containers_are_untested():
    readme = (DEPLOY / "README.md").read_text()
    for name in ["nginx.conf", *(p.name for p in (DEPLOY / "kubernetes").glob("*.yaml"))]:
        assert name in readme, name
    assert "cannot be tested here" in readme
    for containerfile in ROOT.glob("distro-specs/*/Containerfile"):
        text = containerfile.read_text()
        name = containerfile.parent.name
        assert "FROM python:3.11-slim" in text and "EXPOSE 8321" in text
        assert f'CMD ["stack", "serve", "{name}"]' in text
        assert f"llama-stack-distro-{name}==" in text
        assert "cannot be tested here" in (containerfile.parent / "README.md").read_text()
