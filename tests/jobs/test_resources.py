import pytest

from digitsx.errors import SchedulingError
from digitsx.jobs.resources import Request, ResourcePool


def test_gpu_slots_are_exclusive():
    pool = ResourcePool(gpus=(0, 1))
    a = pool.try_reserve("a", Request(gpu_count=1))
    b = pool.try_reserve("b", Request(gpu_count=1))
    assert a.gpus == (0,) and b.gpus == (1,)
    assert pool.try_reserve("c", Request(gpu_count=1)) is None
    assert pool.try_reserve("d", Request(gpu_ids=(0,))) is None
    pool.release("a")
    assert pool.try_reserve("d", Request(gpu_ids=(0,))).gpus == (0,)


def test_n_next_free_takes_lowest_free_ids():
    pool = ResourcePool(gpus=(0, 1, 2, 3))
    pool.try_reserve("a", Request(gpu_ids=(1,)))
    assert pool.try_reserve("b", Request(gpu_count=2)).gpus == (0, 2)
    assert pool.try_reserve("c", Request(gpu_count=2)) is None
    assert pool.free_gpus() == [3]


def test_blocked_gpus_are_kept_for_earlier_jobs():
    pool = ResourcePool(gpus=(0, 1))
    assert pool.try_reserve("a", Request(gpu_count=1), blocked=frozenset({0})).gpus == (1,)
    assert pool.try_reserve("b", Request(gpu_ids=(0,)), blocked=frozenset({0})) is None


def test_impossible_requests_are_errors():
    pool = ResourcePool(gpus=(0, 1), cpu_slots=2)
    with pytest.raises(SchedulingError, match="GPU 5 does not exist"):
        pool.try_reserve("a", Request(gpu_ids=(5,)))
    with pytest.raises(SchedulingError, match="3 GPUs requested but this host has 2"):
        pool.try_reserve("a", Request(gpu_count=3))
    with pytest.raises(SchedulingError, match="CPU slots"):
        pool.try_reserve("a", Request(cpu=3))


def test_cpu_slots():
    pool = ResourcePool(gpus=(), cpu_slots=2)
    assert pool.try_reserve("a", Request(cpu=1)).cpu == 1
    assert pool.try_reserve("b", Request(cpu=1)).device == "cpu"
    assert pool.try_reserve("c", Request(cpu=1)) is None
    pool.release("a")
    assert pool.try_reserve("c", Request(cpu=1)) is not None


def test_host_without_gpu_trains_on_cpu_one_at_a_time():
    pool = ResourcePool(gpus=(), cpu_train_slots=1)
    first = pool.try_reserve("a", Request(gpu_count=1))
    assert first.device == "cpu" and first.train_slot and first.gpus == ()
    assert pool.try_reserve("b", Request(gpu_count=1)) is None
    assert pool.try_reserve("c", Request(cpu=1)) is not None  # dataset jobs still run
    pool.release("a")
    assert pool.try_reserve("b", Request(gpu_count=1)).train_slot


def test_release_is_idempotent_and_reserve_is_stable():
    pool = ResourcePool(gpus=(0,))
    r = pool.try_reserve("a", Request(gpu_count=1))
    assert pool.try_reserve("a", Request(gpu_count=1)) == r
    assert pool.release("a") == r and pool.release("a") is None
    assert pool.busy_gpus() == set()


def test_request_round_trip():
    req = Request(gpu_count=0, gpu_ids=(2, 3), cpu=0)
    assert Request.from_dict(req.to_dict()) == req
