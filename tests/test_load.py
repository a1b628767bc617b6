"""The bundled Flask demo under a short load on 127.0.0.1: every answer right, still serving after.

benchmarks/load.py measures the same app for longer, with wrk, against a venv.
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import REPO, run_apepy

FLASK_HELLO = REPO / "examples" / "flask-hello"
SECONDS = 5.0
CLIENTS = 4
# Path, and something the answer must contain.
PAGES = [
    ("/", b"<h1>Hello from one file</h1>"),
    ("/health", b'"status"'),
    ("/static/style.css", (FLASK_HELLO / "flask_hello" / "static" / "style.css").read_bytes()),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server(NamedTuple):
    proc: subprocess.Popen[str]
    port: int
    log: Path


@pytest.fixture()
def server(built_python: Path, tmp_path: Path) -> Iterator[Server]:
    out = tmp_path / "hello"
    result = run_apepy("bundle", FLASK_HELLO, "-o", out, "--base", built_python)
    assert result.returncode == 0, result.stderr
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    # The server logs every request: to a file, as a pipe nobody reads would fill and stall it.
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(out), "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env={"HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        deadline = time.monotonic() + 30
        while not _healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the bundle did not start serving")
            time.sleep(0.1)
        yield Server(proc, port, log_path)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _client(port: int, until: float, counts: Counter[str], lock: threading.Lock) -> None:
    """One keep-alive connection asking for the pages in turn until ``until``."""
    mine: Counter[str] = Counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = 0
    while time.monotonic() < until:
        path, expected = PAGES[i % len(PAGES)]
        i += 1
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            mine["errors"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        if not 200 <= response.status < 300:
            mine["non-2xx"] += 1
        elif expected not in body:
            mine["wrong body"] += 1
        else:
            mine["ok"] += 1
    conn.close()
    with lock:
        counts.update(mine)


def test_bundle_serves_a_short_load_without_errors(server: Server) -> None:
    proc, port, log = server
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    until = time.monotonic() + SECONDS
    clients = [
        threading.Thread(target=_client, args=(port, until, counts, lock)) for _ in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=SECONDS + 30)
    assert not any(c.is_alive() for c in clients)
    assert counts["errors"] == 0, counts
    assert counts["non-2xx"] == 0, counts
    assert counts["wrong body"] == 0, counts
    # A floor far below what the dev server does here (hundreds a second), so a
    # server that stalls, not a slow machine, fails it.
    assert counts["ok"] >= 100, counts
    assert proc.poll() is None, "the server died under load"
    assert _healthy(port)
    logged = log.read_text()
    assert "Traceback" not in logged, log
    assert logged.count('"GET ') >= counts["ok"]
