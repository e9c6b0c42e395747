"""The GPU probe: NVML first, then `nvidia-smi` CSV, then none; PORTAL_FAKE_GPUS overrides.

GPUs are keyed by UUID, which survives reboots and re-ordering, unlike indexes. Fake GPUs read
their utilisation, memory and power from PORTAL_FAKE_GPU_READINGS (a JSON file, read at each
probe), so a test can make them busy or idle while a supervisor samples them.
"""
import json
import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import psutil

log = logging.getLogger("portal.gpus")
CACHE_SECONDS = 2.0
_cache: dict = {"at": 0.0, "key": None, "gpus": []}
_lock = threading.Lock()


@dataclass(frozen=True)
class Gpu:
    uuid: str
    index: int
    name: str
    memory_total: int  # bytes
    memory_used: int  # bytes
    utilization: int | None  # percent, None when the driver does not say
    source: str  # nvml, nvidia-smi or fake
    processes: tuple[str, ...] = field(default=())  # "pid name" of what holds memory on it
    power: float | None = None  # watts drawn, None when the driver does not say


class FakeGpus(NamedTuple):
    """PORTAL_FAKE_GPUS (and where their readings come from)."""
    count: int
    memory: int  # bytes each
    readings: str | None = None  # JSON file: {"<index>": {"utilization": %, "memory_used": bytes, "power": W}}


def _fake_readings(path: str | None) -> dict:
    if not path:
        return {}
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:  # a half-written file: readings of zero this once
        log.warning("fake GPU readings %s unreadable: %s", path, error)
        return {}
    return data if isinstance(data, dict) else {}


def fake_gpus(count: int, memory: int, readings: str | None = None) -> list[Gpu]:
    values = _fake_readings(readings)
    gpus = []
    for i in range(count):
        set_ = values.get(str(i)) or {}
        gpus.append(Gpu(uuid=f"GPU-fake-{i:04d}", index=i, name="Fake GPU", memory_total=memory,
                        memory_used=int(set_.get("memory_used", 0)), utilization=int(set_.get("utilization", 0)),
                        source="fake", power=float(set_["power"]) if "power" in set_ else None))
    return gpus


def _process_label(pid: int) -> str:
    try:
        return f"{pid} {psutil.Process(pid).name()}"
    except psutil.Error:
        return str(pid)


def _from_nvml() -> list[Gpu] | None:
    try:
        import pynvml
        pynvml.nvmlInit()
    except Exception:  # no library, no driver, or no device: fall through to the next probe
        return None
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                utilization = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
            except pynvml.NVMLError:
                utilization = None
            try:
                procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
            except pynvml.NVMLError:
                procs = []
            try:
                power = pynvml.nvmlDeviceGetPowerUsage(handle) / 1000  # milliwatts
            except pynvml.NVMLError:
                power = None
            name = pynvml.nvmlDeviceGetName(handle)
            uuid = pynvml.nvmlDeviceGetUUID(handle)
            gpus.append(Gpu(uuid=uuid if isinstance(uuid, str) else uuid.decode(), index=index,
                            name=name if isinstance(name, str) else name.decode(),
                            memory_total=int(memory.total), memory_used=int(memory.used),
                            utilization=utilization, source="nvml",
                            processes=tuple(_process_label(p.pid) for p in procs), power=power))
        return gpus
    except Exception:
        log.exception("NVML probe failed")
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _number(text: str) -> float | None:
    return float(text) if text.replace(".", "", 1).isdigit() else None  # "[N/A]", "[Not Supported]"


def parse_nvidia_smi(csv_text: str) -> list[Gpu]:
    """Parse `--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu[,power.draw]` CSV (MiB)."""
    gpus = []
    for line in csv_text.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) not in (6, 7):
            continue
        index, uuid, name, total, used, util = parts[:6]
        utilization = _number(util)
        gpus.append(Gpu(uuid=uuid, index=int(index), name=name, memory_total=int(float(total)) * 1024**2,
                        memory_used=int(float(used)) * 1024**2,
                        utilization=None if utilization is None else int(utilization),
                        source="nvidia-smi", power=_number(parts[6]) if len(parts) == 7 else None))
    return gpus


def _from_nvidia_smi() -> list[Gpu] | None:
    argv = ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,power.draw",
            "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvidia_smi(out)


def probe(fake: FakeGpus | tuple[int, int] | None = None) -> list[Gpu]:
    """The host's GPUs (cached for a moment: pages poll this)."""
    with _lock:
        now = time.monotonic()
        if _cache["key"] == fake and now - _cache["at"] < CACHE_SECONDS:
            return _cache["gpus"]
        if fake is not None:
            gpus = fake_gpus(*fake)
        else:
            gpus = _from_nvml()
            if gpus is None:
                gpus = _from_nvidia_smi() or []
        _cache.update(at=now, key=fake, gpus=gpus)
        return gpus
