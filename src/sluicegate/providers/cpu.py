"""Which CPU code path the embedded model may take on this host.

llama.cpp's CPU backend can place weights in "extra buffer types": repacked layouts for wider
SIMD kernels and, on CPUs that advertise AMX, tiles for Intel's matrix unit. On some hosts the
AMX path faults: a Sapphire Rapids class VM whose kernel grants the tile permission
(`arch_prctl(ARCH_REQ_XCOMP_PERM)` succeeds) still raised a general-protection fault on the first
`ldtilecfg`, killing the process on the first request. Loading without extra buffer types
(`llama_model_params.use_extra_bufts = false`) avoids every such path, at a cost measured in
`benchmarks/results/embedded.json`.

`auto` therefore loads without extra buffers when the CPU advertises AMX and with them
otherwise; the supervisor also falls back to `off` if a worker loaded with them dies from a
signal during its start-up probe (see `llamacpp_process`), so an unknown fault on another CPU
costs one restart, not the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ExtraBuffers = Literal["auto", "on", "off"]
AMX_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16", "amx_fp16", "amx_complex"})
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True, slots=True)
class ExtraBuffersChoice:
    enabled: bool
    # Why: shown in the log at start and in benchmarks.
    reason: str
    # True when `auto` chose it, so the supervisor may still fall back to off after a crash.
    automatic: bool


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The feature flags of the first processor listed in /proc/cpuinfo (empty where unreadable)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in {"flags", "Features"}:
            return frozenset(value.split())
    return frozenset()


def choose_extra_buffers(setting: ExtraBuffers, flags: frozenset[str] | None = None) -> ExtraBuffersChoice:
    if setting == "on":
        return ExtraBuffersChoice(True, "cpu_extra_buffers: on", automatic=False)
    if setting == "off":
        return ExtraBuffersChoice(False, "cpu_extra_buffers: off", automatic=False)
    found = sorted((cpu_flags() if flags is None else flags) & AMX_FLAGS)
    if found:
        return ExtraBuffersChoice(
            False, f"the CPU advertises AMX ({', '.join(found)}), whose path faults on some hosts", True
        )
    return ExtraBuffersChoice(True, "no AMX on this CPU", automatic=True)
