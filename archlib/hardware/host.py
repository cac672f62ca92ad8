"""This host: what it is (CPU, threads, torch, device: one stable id), its free memory, and
the one-measurement-at-a-time lock every timing takes.

torch is imported lazily, so reading the host's identity or memory costs nothing.
"""
from __future__ import annotations

import fcntl
import os
import platform
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from archlib.errors import ArchlibError


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()

def default_threads() -> int:
    import torch

    return torch.get_num_threads()

def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; os.cpu_count() where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

def host_info(device: str = "cpu") -> dict[str, Any]:
    """What a measurement ran on: CPU model, threads, torch version, device."""
    import torch

    info = {"hostname": platform.node(), "cpu": cpu_model(), "logical_cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "os": platform.platform(terse=True), "device": "cpu"}
    if device == "cuda" and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        info.update(device=f"cuda: {props.name}", gpu_memory_gb=round(props.total_memory / 2**30, 1),
                    cuda=torch.version.cuda)
    return info

def torch_version() -> str:
    """torch's version as torch.__version__ says it, read from the installed package's metadata
    (no import: looking a host up must not cost torch's import time)."""
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:  # a source build: ask torch itself
        import torch

        return torch.__version__


def identity(device: str = "cpu") -> dict[str, Any]:
    """The fields host_id reads, without importing torch on the CPU (the GPU's name needs torch)."""
    if device != "cpu":
        return host_info(device)
    return {"hostname": platform.node(), "cpu": cpu_model(), "logical_cpus": os.cpu_count(),
            "torch": torch_version(), "device": "cpu"}


def host_id(info: Mapping[str, Any]) -> str:
    """A stable id of a host and device: the same machine, torch and device give the same id."""
    import hashlib

    key = "|".join(str(info.get(k, "")) for k in ("hostname", "cpu", "logical_cpus", "torch", "device"))
    return hashlib.sha1(key.encode()).hexdigest()[:12]

def available_memory(device: str) -> int:
    """Bytes this process could still allocate on `device` (MemAvailable on the CPU)."""
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


_PID = re.compile(r"\(pid (\d{1,10}),")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (a pid past the kernel's range: none)
        return False
    except PermissionError:  # someone else's, alive
        return True
    return True


class MeasurementBusy(ArchlibError):
    """Another measurement holds this host's lock longer than the caller would wait."""


class HostLock:
    """One measurement at a time on this host: an exclusive flock on a file next to the DB.

    `on_wait(message)` is called while another holder has it (about every `poll` seconds);
    after `timeout` seconds MeasurementBusy is raised, naming the holder.
    """

    def __init__(self, path: str | os.PathLike, *, what: str = "", timeout: float = 120.0, poll: float = 0.25,
                 on_wait: Callable[[str], None] | None = None) -> None:
        self.path, self.what, self.timeout, self.poll, self.on_wait = Path(path), what, timeout, poll, on_wait
        self._f = None

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it; never a process that has exited (a
        SIGKILLed holder leaves its text behind, and a forked child may still hold the lock)."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return "another measurement"
        pid = _PID.search(text)
        if not text or (pid and not _alive(int(pid.group(1)))):
            return "another measurement"
        return text

    def __enter__(self) -> HostLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")  # held open until __exit__
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                msg = f"This host is busy with {self.holder()}; waiting ({waited:.0f} s of {self.timeout:.0f} s)."
                if waited >= self.timeout:
                    f.close()
                    raise MeasurementBusy(f"This host is still busy with {self.holder()} after {self.timeout:.0f} s; "
                                          "try again when it has finished.") from None
                if self.on_wait:
                    self.on_wait(msg)
                time.sleep(self.poll)
        f.seek(0)
        f.truncate()
        f.write(f"{self.what or 'a measurement'} (pid {os.getpid()}, since {time.strftime('%H:%M:%S')})")
        f.flush()
        self._f = f
        return self

    def __exit__(self, *exc: Any) -> None:
        f, self._f = self._f, None
        if f is not None:
            f.seek(0)
            f.truncate()
            f.flush()
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            f.close()
