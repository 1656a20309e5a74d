"""Hardware detection: what this host can offer, as canonical descriptors.

A *hardware profile* is one way the provider offers the machine: the CPU with a given
number of threads, or one GPU. Each profile has a canonical descriptor (a dict of plain
JSON values that does not change between runs on the same machine) whose ``content_id``
is the on-chain ``hardwareId``. One machine may expose several profiles (1 and 2 CPU
threads, CPU and GPU); the meta-learner treats each as separate hardware.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from protocol.canonical import content_id

DESCRIPTOR_VERSION = 1


class HardwareError(ValueError):
    """A requested hardware profile does not exist on this host."""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _cpu_flags() -> list[str]:
    """The ISA extensions that matter for inference kernels (sorted, stable)."""
    wanted = (
        "avx2",
        "avx512f",
        "avx512_bf16",
        "avx512_vnni",
        "avx512_fp16",
        "amx_bf16",
        "amx_int8",
    )
    wanted += ("amx_tile", "fma", "neon", "sve")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith(("flags", "features")):
                    have = set(line.split(":", 1)[1].split())
                    return sorted(f for f in wanted if f in have)
    except OSError:
        pass
    return []


def _physical_cores() -> int:
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
        if n:
            return int(n)
    except Exception:  # pragma: no cover - psutil always present in the project env
        pass
    return os.cpu_count() or 1


def usable_cpus() -> int:
    """CPUs this process may run on (affinity mask, cgroup-agnostic)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _ram_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


def _round_ram(n: int) -> int:
    """RAM rounded down to whole GiB, so the descriptor is stable under small kernel variations."""
    gib = 1 << 30
    return max(1, n // gib) * gib


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_bytes: int
    compute_capability: str
    driver: str | None
    cuda: str | None


def detect_gpus() -> list[GpuInfo]:
    """CUDA GPUs visible to torch (empty when torch has no CUDA or none is present)."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    driver = _nvidia_driver()
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        out.append(
            GpuInfo(
                index=i,
                name=props.name,
                memory_bytes=int(props.total_memory),
                compute_capability=f"{props.major}.{props.minor}",
                driver=driver,
                cuda=torch.version.cuda,
            )
        )
    return out


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return out.splitlines()[0].strip() if out else None
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass(frozen=True)
class HardwareProfile:
    """One offer of this machine: ``device`` is ``cpu`` or ``cuda``; ``threads`` CPU threads used."""

    name: str
    device: str
    threads: int
    cpu_model: str
    cpu_cores: int
    cpu_flags: tuple[str, ...]
    ram_bytes: int
    arch: str
    gpu: GpuInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise HardwareError(f"device must be 'cpu' or 'cuda', not {self.device!r}")
        if self.threads < 1:
            raise HardwareError(f"threads must be >= 1, not {self.threads}")
        if self.device == "cuda" and self.gpu is None:
            raise HardwareError("a cuda profile needs a GPU")

    def descriptor(self) -> dict[str, Any]:
        """The canonical descriptor; ``hardwareId = content_id(descriptor)``."""
        d: dict[str, Any] = {
            "kind": "hardware",
            "v": DESCRIPTOR_VERSION,
            "device": self.device,
            "arch": self.arch,
            "cpu_model": self.cpu_model,
            "cpu_cores": self.cpu_cores,
            "cpu_flags": list(self.cpu_flags),
            "threads": self.threads,
            "ram_bytes": self.ram_bytes,
        }
        if self.gpu is not None:
            d["gpu"] = {
                "name": self.gpu.name,
                "memory_bytes": self.gpu.memory_bytes,
                "compute_capability": self.gpu.compute_capability,
                "driver": self.gpu.driver,
                "cuda": self.gpu.cuda,
                "count": 1,
            }
        return d

    @property
    def hardware_id(self) -> str:
        return content_id(self.descriptor())

    def apply(self) -> None:
        """Make this process use the profile's thread count (torch intra-op threads)."""
        try:
            import torch
        except ImportError:  # pragma: no cover
            return
        torch.set_num_threads(self.threads)


def detect(threads: list[int] | None = None, gpu: bool = True) -> list[HardwareProfile]:
    """All profiles of this host: one CPU profile per thread count, then one per GPU.

    ``threads`` defaults to ``[usable_cpus()]``; counts above the usable CPUs are an error.
    """
    avail = usable_cpus()
    threads = threads or [avail]
    for t in threads:
        if t < 1 or t > avail:
            raise HardwareError(f"{t} threads requested but this host has {avail} usable CPUs")
    base = {
        "cpu_model": _cpu_model(),
        "cpu_cores": _physical_cores(),
        "cpu_flags": tuple(_cpu_flags()),
        "ram_bytes": _round_ram(_ram_bytes()),
        "arch": platform.machine(),
    }
    profiles = [HardwareProfile(name=f"cpu-{t}t", device="cpu", threads=t, **base) for t in threads]
    if gpu:
        for g in detect_gpus():
            profiles.append(
                HardwareProfile(
                    name=f"cuda{g.index}", device="cuda", threads=max(threads), gpu=g, **base
                )
            )
    return profiles


HOST_SUFFIX = "@host"  # "cpu-1t@host": the profile named after this host (see host_tag)


def host_tag(profile: HardwareProfile) -> str:
    """A short name for the machine behind ``profile``: its processor (or GPU) and a hash.

    Profiles of one name (``cpu-1t``) on different machines are different hardware; a
    meta-data set that pools hosts names each ``cpu-1t@<host_tag>``.
    """
    return descriptor_host_tag(profile.descriptor())


def descriptor_host_tag(descriptor: dict[str, Any]) -> str:
    """:func:`host_tag` of a hardware descriptor (e.g. read from a table of another host).

    The hash covers the descriptor without the thread count and the driver versions, so
    all profiles of one machine share the tag and it survives a driver update.
    """
    d = dict(descriptor)
    d.pop("threads", None)
    label = str(d.get("cpu_model", "host"))
    if isinstance(d.get("gpu"), dict):
        d["gpu"] = {k: v for k, v in d["gpu"].items() if k not in ("driver", "cuda")}
        label = str(d["gpu"].get("name", label))
    words = re.sub(r"\(r\)|\(tm\)|processor|cpu|nvidia|@.*", " ", label.lower())
    slug = "-".join(re.findall(r"[a-z0-9]+", words)[:2]) or "host"
    return f"{slug}-{content_id(d)[2:8]}"


def profile_by_name(name: str, threads: list[int] | None = None) -> HardwareProfile:
    """Find a profile by name (``cpu-2t``, ``cuda0``); a ``cpu-Nt`` name is built on demand.

    ``<profile>@host`` names the profile after this host (:func:`host_tag`), and
    ``<profile>@<tag>`` is accepted where ``<tag>`` is this host's tag.
    """
    base, _, tag = name.partition("@")
    if tag:
        profile = profile_by_name(base, threads)
        own = host_tag(profile)
        if tag not in ("host", own):
            raise HardwareError(f"profile {name!r} belongs to host {tag!r}; this host is {own!r}")
        return dataclasses.replace(profile, name=f"{base}@{own}")
    m = re.fullmatch(r"cpu-(\d+)t", name)
    profiles = detect(threads=[int(m.group(1))] if m else threads, gpu=not m)
    for p in profiles:
        if p.name == name:
            return p
    names = ", ".join(p.name for p in detect(gpu=True))
    raise HardwareError(
        f"no hardware profile {name!r} on this host (have: {names}, cpu-<N>t, <profile>@host)"
    )
