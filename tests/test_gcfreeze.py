"""zoo.gcfreeze: old objects out of the garbage collector's walk while a job runs, and back after."""
import gc
import threading

import pytest

from zoo.gcfreeze import gc_frozen


@pytest.fixture(autouse=True)
def nothing_frozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_job_runs_frozen_and_unfreezes_after_also_when_it_fails():
    seen = []
    job = gc_frozen(lambda: seen.append(gc.get_freeze_count()))
    job()
    assert seen[0] > 0 and gc.get_freeze_count() == 0

    @gc_frozen
    def fails():
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        fails()
    assert gc.get_freeze_count() == 0


def test_nested_and_concurrent_jobs_unfreeze_only_when_the_last_one_ends():
    inner_done, outer_may_end, seen = threading.Event(), threading.Event(), []

    @gc_frozen
    def inner():
        pass

    @gc_frozen
    def outer():
        inner()
        seen.append(gc.get_freeze_count())  # the inner job's end left the freeze on
        inner_done.set()
        outer_may_end.wait(5)

    t = threading.Thread(target=outer)
    t.start()
    inner_done.wait(5)
    gc_frozen(lambda: None)()  # another thread's job ends while outer still runs
    seen.append(gc.get_freeze_count())
    outer_may_end.set()
    t.join()
    assert seen[0] > 0 and seen[1] > 0 and gc.get_freeze_count() == 0
