"""The GPU probe: NVML first, then `nvidia-smi` CSV, then none; PORTAL_FAKE_GPUS overrides.

GPUs are keyed by UUID, which survives reboots and re-ordering, unlike indexes.
"""
import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field

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


def fake_gpus(count: int, memory: int) -> list[Gpu]:
    return [Gpu(uuid=f"GPU-fake-{i:04d}", index=i, name="Fake GPU", memory_total=memory,
                memory_used=0, utilization=0, source="fake") for i in range(count)]


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
            name = pynvml.nvmlDeviceGetName(handle)
            uuid = pynvml.nvmlDeviceGetUUID(handle)
            gpus.append(Gpu(uuid=uuid if isinstance(uuid, str) else uuid.decode(), index=index,
                            name=name if isinstance(name, str) else name.decode(),
                            memory_total=int(memory.total), memory_used=int(memory.used),
                            utilization=utilization, source="nvml",
                            processes=tuple(_process_label(p.pid) for p in procs)))
        return gpus
    except Exception:
        log.exception("NVML probe failed")
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def parse_nvidia_smi(csv_text: str) -> list[Gpu]:
    """Parse `--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu` CSV (MiB)."""
    gpus = []
    for line in csv_text.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 6:
            continue
        index, uuid, name, total, used, util = parts
        gpus.append(Gpu(uuid=uuid, index=int(index), name=name, memory_total=int(float(total)) * 1024**2,
                        memory_used=int(float(used)) * 1024**2,
                        utilization=int(float(util)) if util.replace(".", "").isdigit() else None,
                        source="nvidia-smi"))
    return gpus


def _from_nvidia_smi() -> list[Gpu] | None:
    argv = ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu",
            "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvidia_smi(out)


def probe(fake: tuple[int, int] | None = None) -> list[Gpu]:
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
