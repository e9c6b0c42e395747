"""The vLLM stand-in (tests/fixtures/fake_vllm.py) as a real process, started the way vLLM is."""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port, wait_for

VLLM = Path(__file__).resolve().parent.parent / "fixtures" / "bin" / "vllm"


def fake_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_VLLM_", "VLLM_"))}
    env.update(PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="3", **extra)
    return env


def adapter(tmp_path, name, rank):
    path = tmp_path / name
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"r": rank, "lora_alpha": 2 * rank}))
    return path


class Server:
    def __init__(self, tmp_path, *args, **env):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.out, self.err = tmp_path / "stdout.log", tmp_path / "stderr.log"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [str(VLLM), "serve", *args, "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out, stderr=err, env=fake_env(**env), start_new_session=True)

    def healthy(self):
        try:
            with urllib.request.urlopen(f"{self.base}/health", timeout=2) as response:
                return response.status == 200 and response.read() == b""
        except OSError:
            assert self.proc.poll() is None, self.err.read_text()
            return False

    def get(self, path):
        with urllib.request.urlopen(f"{self.base}{path}", timeout=5) as response:
            return response.status, response.headers, response.read().decode()

    def post(self, body: bytes):
        request = urllib.request.Request(f"{self.base}/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def metric(self, name):
        text = self.get("/metrics")[2]
        match = re.search(rf'^{re.escape(name)}{{engine="0",model_name="base"}} (\S+)$', text, re.MULTILINE)
        assert match, text
        return float(match.group(1))

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=5)


@pytest.fixture
def servers():
    started = []
    yield lambda *args, **kwargs: started.append(Server(*args, **kwargs)) or started[-1]
    for server in started:
        server.kill()


@pytest.mark.slow
def test_speaks_vllms_openai_api(tmp_path, servers):
    lora = adapter(tmp_path, "sql-lora", 8)
    module = json.dumps({"name": "sql", "path": str(lora), "base_model_name": "base"})
    server = servers(tmp_path, "/models/llama", "--served-model-name", "base", "--max-model-len", "2048",
                     "--enable-lora", "--lora-modules", module, "--dtype", "auto",
                     FAKE_VLLM_TOKEN_DELAY="0.01")
    wait_for(server.healthy, timeout=10, interval=0.05)

    line = next(l for l in server.out.read_text().splitlines() if l.startswith("fake-vllm args: "))
    recorded = json.loads(line.removeprefix("fake-vllm args: "))
    assert recorded["argv"][:2] == ["serve", "/models/llama"] and recorded["unknown"] == ["--dtype", "auto"]
    assert "CUDA_VISIBLE_DEVICES=3" in server.out.read_text()

    models = json.loads(server.get("/v1/models")[2])
    assert models["object"] == "list"
    base, sql = models["data"]
    assert {k: base[k] for k in ("id", "object", "owned_by", "root", "parent", "max_model_len")} == {
        "id": "base", "object": "model", "owned_by": "vllm", "root": "/models/llama", "parent": None,
        "max_model_len": 2048}
    assert isinstance(base["created"], int) and base["permission"][0]["object"] == "model_permission"
    assert (sql["id"], sql["root"], sql["parent"], sql["max_model_len"]) == ("sql", str(lora), "base", None)

    prompt_before = server.metric("vllm:prompt_tokens_total")
    generated_before = server.metric("vllm:generation_tokens_total")

    status, answer = server.post(json.dumps({"model": "sql", "max_tokens": 50, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "count the rows"}]}).encode())
    assert status == 200 and answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    choice = answer["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == "[sql] echo: count the rows"
    assert answer["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10,
                               "prompt_tokens_details": None}

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/v1/chat/completions", json.dumps({
        "model": "base", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi there"}]}), {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type").startswith("text/event-stream")
    events = [line.decode().rstrip("\n") for line in iter(response.readline, b"") if line.strip()]
    conn.close()
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    words = chunks[1:-2]
    assert [c["choices"][0]["delta"]["content"] for c in words] == ["[base]", " echo:", " hi", " there"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-2])
    last = chunks[-2]["choices"][0]
    assert last["finish_reason"] == "stop" and not last["delta"].get("content")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {
        "prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}

    status, error = server.post(json.dumps({"model": "gpt-4", "messages": []}).encode())
    assert status == 404 and error == {"error": {"message": "The model `gpt-4` does not exist.",
                                                 "type": "NotFoundError", "param": "model", "code": 404}}
    status, error = server.post(b'{"model": "base", "messages": ')
    assert status == 400 and set(error["error"]) == {"message", "type", "param", "code"}
    assert error["error"]["code"] == 400 and error["error"]["type"] == "Bad Request"
    status, error = server.post(json.dumps({"model": "base", "messages": [{"role": "user", "content": "x"}],
                                            "stream_options": {"include_usage": True}}).encode())
    assert status == 400 and error["error"]["param"] == "stream_options"

    assert server.metric("vllm:prompt_tokens_total") == prompt_before + 5 + 2
    assert server.metric("vllm:generation_tokens_total") == generated_before + 5 + 4
    assert server.metric("vllm:num_requests_running") == 0
    text = server.get("/metrics")[2]
    assert "# TYPE vllm:kv_cache_usage_perc gauge" in text and "# TYPE vllm:num_requests_waiting gauge" in text
    assert "# TYPE vllm:prompt_tokens_total counter" in text


def test_refuses_the_removed_disable_log_requests_flag():
    done = subprocess.run([str(VLLM), "serve", "/models/llama", "--disable-log-requests"], env=fake_env(),
                          check=False, capture_output=True, text=True, timeout=15)
    assert done.returncode == 2
    assert "vllm serve: error: unrecognized arguments: --disable-log-requests" in done.stderr


def test_refuses_an_adapter_above_max_lora_rank(tmp_path):
    module = f"big={adapter(tmp_path, 'big', 64)}"
    done = subprocess.run([str(VLLM), "serve", "/models/llama", "--enable-lora", "--lora-modules", module],
                          env=fake_env(), check=False, capture_output=True, text=True, timeout=15)
    assert done.returncode == 1  # vLLM fails engine start-up with a ValueError, not an argparse error
    assert "LoRA rank 64 is greater than max_lora_rank 16" in done.stderr


@pytest.mark.slow
def test_child_outlives_the_server_in_its_process_group(tmp_path, servers):
    server = servers(tmp_path, "/models/llama", FAKE_VLLM_CHILD="1", FAKE_VLLM_CHILD_LIFETIME="60")
    wait_for(server.healthy, timeout=10, interval=0.05)
    child = int(wait_for(lambda: re.search(r"child pid=(\d+)", server.out.read_text()),
                         timeout=5, interval=0.05).group(1))
    assert os.getpgid(child) == os.getpgid(server.proc.pid) == server.proc.pid

    server.proc.kill()
    server.proc.wait(timeout=5)
    assert os.getpgid(child) == server.proc.pid  # still there, still in the group: killpg reaches it
    os.killpg(server.proc.pid, signal.SIGKILL)
    def gone():
        try:
            return " Z " in Path(f"/proc/{child}/stat").read_text()  # a zombie awaiting its reaper
        except FileNotFoundError:
            return True
    wait_for(gone, timeout=5, interval=0.05)
