"""When a dead model worker is started again: backoff that doubles, a crash loop that waits for its
window, and the one immediate fallback from extra buffers."""

from __future__ import annotations

from sluicegate.config.providers import WorkerSupervisionConfig as Supervision
from sluicegate.providers.restarts import RestartPolicy


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(Supervision(max_restarts=10, backoff_s=0.5, max_backoff_s=3))
    delays = [policy.exited(float(t), probe_fault_with_extra_buffers=False).delay_s for t in range(5)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_more_exits_than_the_window_allows_is_a_crash_loop_until_the_oldest_leaves() -> None:
    policy = RestartPolicy(Supervision(max_restarts=2, restart_window_s=60))
    assert policy.exited(0.0, probe_fault_with_extra_buffers=False).action == "restart"
    assert policy.exited(10.0, probe_fault_with_extra_buffers=False).action == "restart"
    looping = policy.exited(20.0, probe_fault_with_extra_buffers=False)
    assert (looping.action, looping.delay_s, looping.exits_in_window) == ("crash_loop", 40.0, 3)
    # Once the early exits have left the window, an exit is an ordinary restart again.
    later = policy.exited(75.0, probe_fault_with_extra_buffers=False)
    assert (later.action, later.exits_in_window) == ("restart", 2)


def test_a_probe_fault_with_extra_buffers_starts_again_at_once() -> None:
    policy = RestartPolicy(Supervision(max_restarts=0))
    decision = policy.exited(0.0, probe_fault_with_extra_buffers=True)
    assert (decision.action, decision.delay_s) == ("fallback_without_extra_buffers", 0.0)
