"""`detect --ray` on a real local Ray cluster started here (`ray start --head --num-cpus 2` on 127.0.0.1):
the same outputs as a local run, a worker killed mid-run, a corrupt file among the inputs, --resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import shared_data
from tests.server_process import free_port, oddsight

RAY = Path(sys.executable).with_name("ray")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not RAY.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("ray is missing: scripts/install.sh all installs the [ray] extra")
        pytest.skip("ray is not installed")
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    start = [str(RAY), "start", "--head", "--num-cpus", "2", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    start += ["--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"]
    subprocess.run(start, check=True, capture_output=True, env=env, timeout=180)
    yield f"127.0.0.1:{port}"
    subprocess.run([str(RAY), "stop", "--force"], capture_output=True, env=env, timeout=120)


@pytest.fixture
def inputs(tmp_path) -> Path:
    folder = tmp_path / "videos"
    folder.mkdir()
    for v in (shared_data() / "ucf_crime" / "videos").glob("*.mp4"):
        os.symlink(v, folder / v.name)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    return folder


def _detect(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ODDSIGHT_HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run(
        oddsight("detect", *args, "-q", "--no-cache"), capture_output=True, text=True, env=env, timeout=900
    )


def _outputs(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text())
        doc.pop("timings")
        out[path.name] = doc
    return out


def test_ray_run_equals_the_local_run_and_survives_a_killed_worker(cluster, inputs, tmp_path):
    local = _detect([str(inputs), "--out", str(tmp_path / "local")], tmp_path / "home")
    assert local.returncode == 1 and "broken.mp4" in local.stderr  # the corrupt file fails, the rest are done

    killed: list[int] = []

    def kill_a_worker() -> None:  # once a worker is busy on a video, kill -9 it
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
            busy = [int(line.split()[0]) for line in ps.splitlines() if "ray::_DetectWorker.run" in line]
            if busy:
                os.kill(busy[0], 9)
                killed.append(busy[0])
            time.sleep(0.2)

    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    cluster_run = _detect([str(inputs), "--out", str(tmp_path / "ray"), "--ray", cluster], tmp_path / "home")
    killer.join(5)
    assert killed, "no worker was seen running a video"
    assert cluster_run.returncode == 1, cluster_run.stderr
    assert cluster_run.stderr.count("broken.mp4") == 1  # reported once
    assert _outputs(tmp_path / "ray") == _outputs(tmp_path / "local")
    assert len(_outputs(tmp_path / "ray")) == 4

    # --resume: nothing left to do but the broken file
    written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").glob("*.json")}
    again = _detect([str(inputs), "--out", str(tmp_path / "ray"), "--ray", cluster, "--resume"], tmp_path / "home")
    assert again.stderr.count("broken.mp4") == 1 and again.stderr.count("error") == 1
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").glob("*.json")} == written  # not redone


def test_ray_without_a_cluster_is_one_line(tmp_path):
    run = _detect([str(shared_data() / "normal" / "vtest.avi"), "--ray", f"127.0.0.1:{free_port()}"], tmp_path)
    assert run.returncode == 2 and "no Ray cluster there" in run.stderr and "Traceback" not in run.stderr


def test_ray_extra_missing_names_it(tmp_path):
    code = (
        "import sys, importlib.util as u; f = u.find_spec; "
        "u.find_spec = lambda n, *a: None if n == 'ray' else f(n, *a); "
        "from oddsight.cli import main; sys.argv = ['oddsight'] + sys.argv[1:]; main()"
    )
    env = {**os.environ, "ODDSIGHT_HOME": str(tmp_path)}
    args = ["detect", str(shared_data() / "normal" / "vtest.avi"), "--ray", "auto", "--out", str(tmp_path)]
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 3 and "'ray' extra" in run.stderr and "pip install 'oddsight[ray]'" in run.stderr


def test_only_the_two_ray_modules_import_ray():
    """Videos over a cluster (``detect --ray``) and cameras over a cluster (``serve --ray``): nothing else."""
    root = Path(__file__).resolve().parents[1] / "src" / "oddsight"
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "import ray" in p.read_text())
    assert users == ["cluster/ray_runner.py", "server/ray_cameras.py"]


def test_eval_and_fit_on_ray_equal_local(cluster, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "ODDSIGHT_HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
    root = str(shared_data() / "ucf_crime")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(oddsight(*args), capture_output=True, text=True, env=env, timeout=900)

    local = run("eval", "--dataset", "ucf-crime", "--root", root, "--json", "--no-cache")
    remote = run("eval", "--dataset", "ucf-crime", "--root", root, "--json", "--no-cache", "--ray", cluster)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert a["auc"] == b["auc"] and a["per_video"] == b["per_video"]

    normal = str(shared_data() / "normal" / "vtest.avi")
    fit_local = run("fit", normal, "-o", str(tmp_path / "local.oddsight"), "--fps", "1")
    fit_ray = run("fit", normal, "-o", str(tmp_path / "ray.oddsight"), "--fps", "1", "--ray", cluster)
    assert fit_local.returncode == 0 and fit_ray.returncode == 0, fit_ray.stderr
    assert fit_local.stdout.split("->")[0] == fit_ray.stdout.split("->")[0]  # same frames, kind, threshold
