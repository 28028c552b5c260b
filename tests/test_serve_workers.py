"""``citymap serve --workers N``: gunicorn's worker processes on one socket.

A real ``citymap serve --workers 2 --notify-every 0.3`` on a copy of the sample. Which worker
answers is chosen by stopping the other one (SIGSTOP: it accepts nothing until SIGCONT), so a
login made through one worker is used, checked for its CSRF token and ended through the other,
and failed logins counted by one slow down the next attempt at the other: sessions, CSRF and the
login throttle live in the database. One notifier runs beside the workers (not one per
worker) and ends with the server; proxy headers are not trusted without ``trusted_proxies``;
the secret-key rule holds for workers as for one process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from conftest import TEST_PASSWORD

from webmap.cli import main

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="gunicorn workers and /proc: Linux")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


class Served:
    def __init__(self, process: subprocess.Popen, base: str, log: Path):
        self.process, self.base, self.log = process, base, log

    def text(self) -> str:
        return self.log.read_text()

    def workers(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.text())]

    def notifier_rounds(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"\[citymap-notify (\d+)\] INFO notification round", self.text())]


@pytest.fixture(scope="module")
def served(sample_copy, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("workers") / "serve.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CITYMAP_")}
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("citymap")), "serve", "--port", str(port), "--workers", "2",
             "--notify-every", "0.3"],
            env={**environ, "CITYMAP_DATA_DIR": str(sample_copy.data_dir)}, stdout=out, stderr=subprocess.STDOUT)
    server = Served(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (len(server.workers()) < 2 or not server.notifier_rounds()):
        assert process.poll() is None, server.text()
        time.sleep(0.2)
    for _ in range(100):
        try:
            requests.get(f"{server.base}/favicon.ico", timeout=5)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield server
    notifier = set(server.notifier_rounds())
    process.terminate()
    process.wait(30)
    # nothing is left behind: the workers and the notifier end with the server
    time.sleep(0.5)
    assert not [pid for pid in [*server.workers(), *notifier] if Path(f"/proc/{pid}").exists()]


@contextmanager
def only_worker(server: Served, index: int):
    """Let only worker ``index`` accept connections: the other one is stopped until the block ends."""
    others = [pid for i, pid in enumerate(_children(server.process.pid)) if pid in server.workers()][:2]
    assert len(others) == 2, server.text()
    stopped = others[1 - index]
    os.kill(stopped, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(stopped, signal.SIGCONT)


def test_a_login_through_one_worker_is_used_and_ended_through_the_other(served):
    user = requests.Session()
    user.headers["Connection"] = "close"  # a new connection each time: a kept one stays with its worker
    with only_worker(served, 0):
        answer = user.post(f"{served.base}/login", json={"name": "supervisor", "password": TEST_PASSWORD}, timeout=30)
        assert answer.status_code == 200, answer.text
        csrf = answer.json()["csrf_token"]
    with only_worker(served, 1):
        me = user.get(f"{served.base}/api/me", timeout=30)
        assert me.status_code == 200 and me.json()["name"] == "supervisor" and me.json()["csrf_token"] == csrf
        json_answer = {"Accept": "application/json"}
        refused = user.post(f"{served.base}/logout", headers=json_answer, timeout=30)
        assert refused.status_code == 400 and "CSRF" in refused.text
        assert user.post(f"{served.base}/logout", headers={**json_answer, "X-CSRF-Token": csrf},
                         timeout=30).json() == {"logged_out": True}
    with only_worker(served, 0):
        # the copied cookie is worthless everywhere: the other worker forgot the session too
        assert requests.get(f"{served.base}/api/me", cookies=user.cookies, timeout=30).status_code == 401


def test_one_notifier_runs_beside_the_workers(served):
    time.sleep(1)  # a few rounds
    rounds = served.notifier_rounds()
    workers = served.workers()
    assert len(rounds) >= 3 and len(set(rounds)) == 1
    [notifier] = set(rounds)
    assert notifier not in workers and notifier != served.process.pid
    assert sorted(_children(served.process.pid)) == sorted([*workers[-2:], notifier])


def test_forwarded_headers_are_not_trusted_without_trusted_proxies(served):
    landing = requests.get(f"{served.base}/ogcapi/", headers={"X-Forwarded-Proto": "https",
                                                              "X-Forwarded-Host": "evil.example"}, timeout=30).json()
    assert {link["href"].split("/ogcapi")[0] for link in landing["links"] if "/ogcapi" in link["href"]} == {
        served.base}


def test_failed_logins_at_one_worker_slow_down_the_next_at_the_other(served):
    """Last in this module: the failures also count against the address (127.0.0.1) of every later login."""
    wrong = {"name": "dispatcher", "password": "not-the-password"}
    with only_worker(served, 0):
        statuses = [requests.post(f"{served.base}/login", json=wrong, timeout=30).status_code for _ in range(4)]
    # three free failures (CITYMAP_LOGIN_FREE_FAILURES), then 1 s to wait after the fourth
    assert statuses == [401, 401, 401, 401]
    with only_worker(served, 1):
        waited = requests.post(f"{served.base}/login", json=wrong, timeout=30)
    assert waited.status_code == 429 and int(waited.headers["Retry-After"]) >= 1


# --------------------------------------------------------------------------- the command, without serving

@pytest.fixture
def gunicorn_runs(monkeypatch):
    """Run ``citymap serve --workers`` without serving: the configuration gunicorn would have run with."""
    from gunicorn.app.base import BaseApplication

    runs: list[dict] = []
    monkeypatch.setattr(BaseApplication, "run", lambda self: runs.append(
        {key: self.cfg.settings[key].get() for key in ("bind", "workers", "forwarded_allow_ips", "worker_class")}))
    return runs


def _serve(tmp_path, *args: str, **env: str):
    environ = {key: None for key in os.environ if key.startswith("CITYMAP_")} | {"CITYMAP_DATA_DIR": str(tmp_path)}
    return CliRunner().invoke(main, ["serve", *args], env=environ | env)


def test_workers_on_a_reachable_address_need_a_secret_key_of_their_own(tmp_path, gunicorn_runs):
    refused = _serve(tmp_path, "--host", "0.0.0.0", "--workers", "2")
    assert refused.exit_code == 1 and gunicorn_runs == []
    assert refused.stderr.startswith("error: refusing to serve on '0.0.0.0' with the development secret key")
    assert _serve(tmp_path, "--host", "0.0.0.0", "--workers", "3", CITYMAP_SECRET_KEY="a-real-random-secret",
                  ).exit_code == 0
    assert _serve(tmp_path, "--host", "::1", "--workers", "1").exit_code == 0
    assert gunicorn_runs == [
        {"bind": ["0.0.0.0:5000"], "workers": 3, "forwarded_allow_ips": [], "worker_class": "gthread"},
        {"bind": ["[::1]:5000"], "workers": 1, "forwarded_allow_ips": [], "worker_class": "gthread"}]


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "Invalid value for '--workers'"),
    (["--workers", "two"], "Invalid value for '--workers'"),
    (["--workers", "2", "--notify-every", "-1"], "--notify-every -1.0: expected 0 (off) or a number of seconds"),
])
def test_bad_serve_options_are_refused(tmp_path, gunicorn_runs, args, message):
    result = _serve(tmp_path, *args)
    assert result.exit_code != 0 and message in result.output + result.stderr and gunicorn_runs == []
