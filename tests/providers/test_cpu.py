"""Which CPU path the embedded model takes: read from /proc/cpuinfo's flags, overridable."""

from __future__ import annotations

from sluicegate.providers.cpu import choose_extra_buffers, cpu_flags

SAPPHIRE_RAPIDS_VM = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse2 avx2 avx512f avx512_vnni amx_bf16 amx_tile amx_int8 arch_capabilities

processor\t: 1
flags\t\t: fpu vme sse2 avx2 avx512f avx512_vnni amx_bf16 amx_tile amx_int8
"""
ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu vme sse2 avx2 avx512f avx512_vnni avx512_bf16
"""


def test_flags_are_read_from_cpuinfo() -> None:
    assert {"amx_tile", "avx2"} <= cpu_flags(SAPPHIRE_RAPIDS_VM)
    assert cpu_flags("") == frozenset()
    assert "asimd" in cpu_flags("processor : 0\nFeatures : fp asimd evtstrm\n")  # aarch64 spells it so


def test_auto_loads_without_extra_buffers_where_the_cpu_advertises_amx() -> None:
    choice = choose_extra_buffers("auto", cpu_flags(SAPPHIRE_RAPIDS_VM))
    assert not choice.enabled
    assert choice.automatic
    assert "amx_int8, amx_tile" in choice.reason


def test_auto_keeps_the_faster_path_elsewhere() -> None:
    choice = choose_extra_buffers("auto", cpu_flags(ZEN4))
    assert choice.enabled
    assert choice.automatic


def test_an_operator_choice_wins_and_is_never_second_guessed() -> None:
    forced_on = choose_extra_buffers("on", cpu_flags(SAPPHIRE_RAPIDS_VM))
    assert forced_on.enabled
    assert not forced_on.automatic
    forced_off = choose_extra_buffers("off", cpu_flags(ZEN4))
    assert not forced_off.enabled
    assert not forced_off.automatic
