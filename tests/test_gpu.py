"""GPU discovery (CUDA_VISIBLE_DEVICES, configured list), telemetry, fake devices."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from digitsx.gpu.devices import discover, visible_filter
from digitsx.gpu.fake import FakeNvml
from digitsx.gpu.nvml import Nvml
from digitsx.gpu.telemetry import Telemetry


def devices(n=4):
    return [FakeNvml(n).device(i) for i in range(n)]


def test_cuda_visible_devices_by_index_and_uuid():
    assert [d["index"] for d in visible_filter(devices(), "2,0")] == [2, 0]
    assert [d["index"] for d in visible_filter(devices(), "GPU-fake-3")] == [3]
    assert visible_filter(devices(), "") == []
    assert [d["index"] for d in visible_filter(devices(), "1,9,2")] == [1]  # CUDA stops at 9
    assert len(visible_filter(devices(), None)) == 4


def test_configured_list_narrows_further():
    nvml = FakeNvml(4)
    assert [d["index"] for d in discover(nvml, "0,2,3", "2,3")] == [2, 3]
    assert [d["index"] for d in discover(nvml, [1], None)] == [1]
    assert discover(nvml, None, None) == devices()


def test_real_nvml_finds_exactly_the_gpus_the_driver_has():
    """Against the real NVML library: no driver means no GPU and no error; a driver means every
    device it lists (``nvidia-smi -L``), with its facts. Either way a wrong answer fails."""
    import glob
    import shutil

    nvml = Nvml()
    found = discover(nvml, None, None)
    smi = shutil.which("nvidia-smi")
    if not glob.glob("/dev/nvidia[0-9]*") or smi is None:
        assert nvml.available is False and found == [] and nvml.count() == 0
        return
    listed = [line for line in subprocess.run([smi, "-L"], capture_output=True, text=True,
                                              timeout=30).stdout.splitlines() if line.startswith("GPU ")]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    assert nvml.available and nvml.count() == len(listed)
    assert len(found) == (len(listed) if visible is None else len(visible_filter(
        [nvml.device(i) for i in range(nvml.count())], visible)))
    assert all({"index", "name", "uuid", "memory_total"} <= set(d) and d["memory_total"] > 0
               for d in found)
    if visible is None:
        assert {d["uuid"] for d in found} == {line.split("UUID: ")[1].rstrip(")") for line in listed}


def test_telemetry_samples_gpus_and_worker_processes():
    busy = {1}
    nvml = FakeNvml(2, busy=lambda i: i in busy)
    proc = subprocess.Popen([sys.executable, "-c",
                             "import time\nx = bytearray(50 * 2**20)\nwhile True: pass"])
    try:
        published = []
        tele = Telemetry(nvml, [0, 1], lambda: {"job-a": proc.pid}, published.append, time.sleep)
        tele.sample()
        time.sleep(0.5)
        sample = tele.sample()
        assert [g["utilization"] > 0 for g in sample["gpus"]] == [False, True]
        stats = sample["jobs"]["job-a"]
        assert stats["pid"] == proc.pid and stats["rss"] > 50 * 2**20
        assert stats["cpu_percent"] > 20  # a busy loop
    finally:
        proc.kill()
        proc.wait()


def test_telemetry_counts_the_workers_children(tmp_path):
    # a worker that idles while its child (a DataLoader process) does the work
    code = ("import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        tele = Telemetry(FakeNvml(0), [], lambda: {"job-a": proc.pid}, lambda s: None, time.sleep)
        deadline = time.time() + 10
        while tele.sample()["jobs"]["job-a"]["processes"] < 2 and time.time() < deadline:
            time.sleep(0.1)
        samples = []
        for _ in range(3):
            time.sleep(0.4)
            samples.append(tele.sample()["jobs"]["job-a"]["cpu_percent"])
        assert min(samples) > 50, samples  # the busy child, every second, not only the first
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_web_process_never_imports_torch(tmp_path):
    code = (
        "import sys\n"
        "from digitsx import create_app\n"
        f"app = create_app({{'JOBS_DIR': {str(tmp_path)!r}, 'SCHEDULER_AUTOSTART': False,"
        " 'PLUGINS': ['tests.fixtures.kinds']})\n"
        "c = app.test_client()\n"
        "for url in ['/', '/index.json', '/completed_jobs.json', '/gpus.json', '/api/openapi.json']:\n"
        "    assert c.get(url).status_code == 200, url\n"
        "heavy = [m for m in ('torch', 'torchvision') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('clean')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, timeout=120)
    assert out.returncode == 0 and "clean" in out.stdout, out.stderr


def test_history_keeps_a_bounded_series_per_job(tmp_path):
    from digitsx.gpu.history import FILE, History, read

    (tmp_path / "a").mkdir()
    history = History(lambda job_id: tmp_path / job_id, lambda job_id: (1,), interval=5,
                      max_points=10)
    sample = {"gpus": [{"index": 0, "utilization": 5}, {"index": 1, "utilization": 90,
                                                         "memory_used": 2**30}],
              "jobs": {"a": {"cpu_percent": 150.0, "rss": 10}}}
    for second in range(0, 200):
        history.record(sample, now=1000.0 + second)
    points = read(tmp_path / "a" / FILE)
    assert 5 <= len(points) <= 10  # 40 points made, halved as it grew
    assert points[0]["t"] == 1000.0 and points[-1]["t"] >= 1180
    assert points[0]["gpus"] == [{"index": 1, "util": 90, "mem": 2**30}]  # only the job's GPU
    assert points[0]["cpu"] == 150.0
    gaps = {round(b["t"] - a["t"]) for a, b in zip(points, points[1:])}
    assert min(gaps) >= 10  # the interval doubled when it was halved


def test_history_keeps_no_point_for_a_process_that_just_ended(tmp_path):
    from digitsx.gpu.history import FILE, History, read

    (tmp_path / "a").mkdir()
    history = History(lambda job_id: tmp_path / job_id, lambda job_id: (), interval=1)
    history.record({"gpus": [], "jobs": {"a": {"cpu_percent": 50.0, "rss": 10}}}, now=1000.0)
    history.record({"gpus": [], "jobs": {"a": {"cpu_percent": None, "rss": None}}}, now=1002.0)
    assert [p["cpu"] for p in read(tmp_path / "a" / FILE)] == [50.0]
