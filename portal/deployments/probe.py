"""Talking to a deployment's server over HTTP: health, Prometheus metrics, and the chat proxy.

Stdlib `http.client` with short timeouts; the supervisor calls `check` from its pool.
"""
import http.client
import json
import re
import time
from dataclasses import dataclass, field

HEALTH_TIMEOUT = 2.0
METRICS = {  # what the deployment page shows, by vLLM's metric names (older names accepted)
    "vllm:num_requests_running": "requests_running",
    "vllm:num_requests_waiting": "requests_waiting",
    "vllm:kv_cache_usage_perc": "kv_cache_usage",
    "vllm:gpu_cache_usage_perc": "kv_cache_usage",
    "vllm:prompt_tokens_total": "prompt_tokens_total",
    "vllm:generation_tokens_total": "generation_tokens_total",
}
_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+([-+0-9.eEinfa]+)")


@dataclass
class Health:
    http: str  # ok | refused | "HTTP 503" | timeout | error text
    metrics: dict = field(default_factory=dict)


def get(host: str, port: int, path: str, timeout: float = HEALTH_TIMEOUT) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read(1 << 20)
    finally:
        conn.close()


def parse_metrics(text: str) -> dict:
    """The sums over labels of the metrics we show (Prometheus text format)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match[1] in METRICS:
            try:
                values[METRICS[match[1]]] = values.get(METRICS[match[1]], 0.0) + float(match[2])
            except ValueError:
                continue
    return values


def check(host: str, port: int, health_path: str, scrape: bool) -> Health:
    try:
        status, _ = get(host, port, health_path)
    except ConnectionRefusedError:
        return Health("refused")
    except TimeoutError:
        return Health("timeout")
    except OSError as error:
        return Health(f"error: {error}")
    result = Health("ok" if status == 200 else f"HTTP {status}")
    if scrape and status == 200:
        try:
            code, body = get(host, port, "/metrics")
            if code == 200:
                result.metrics = {**parse_metrics(body.decode(errors="replace")), "at": time.time()}
        except OSError:
            pass
    return result


def with_throughput(new: dict, old: dict) -> dict:
    """Tokens per second from two scrapes of the `_total` counters."""
    if not new:
        return old
    elapsed = new.get("at", 0) - old.get("at", 0)
    for key in ("prompt_tokens_total", "generation_tokens_total"):
        if key in new and key in old and elapsed > 0:
            new[key.replace("_total", "_per_second")] = max(0.0, (new[key] - old[key]) / elapsed)
    return new


def chat(host: str, port: int, body: dict, timeout: float = 300.0):
    """POST /v1/chat/completions: (status, content type, an iterator of body chunks) as they come."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    payload = json.dumps(body).encode()
    conn.request("POST", "/v1/chat/completions", body=payload, headers={"Content-Type": "application/json"})
    response = conn.getresponse()

    def chunks():
        try:
            while True:
                data = response.read1(65536)
                if not data:
                    return
                yield data
        finally:
            conn.close()

    return response.status, response.getheader("Content-Type", "application/json"), chunks()
