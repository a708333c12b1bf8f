"""Shared helpers for the benchmarks: a throw-away PostgreSQL database, processes, load tools."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = PROJECT / "bench" / "results"
PG_SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1/test")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def require_tool(name: str, package: str | None = None) -> str:
    """Return the tool's path, installing the Debian package when we are root and it is missing."""
    path = shutil.which(name)
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {package or name} (apt-get)")
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", package or name], check=True, capture_output=True
        )
        path = shutil.which(name)
    if not path:
        raise SystemExit(f"{name} is needed for this benchmark: apt-get install {package or name}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def fresh_database(name: str):
    """A new, migrated PostgreSQL database, dropped afterwards. Yields its URL."""
    base = make_url(PG_SERVER)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    subprocess.run(
        [str(BIN / "alembic"), "upgrade", "head"],
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def background(
    args: list[str], env: dict[str, str], wait_url: str | None = None, log_file: Path | None = None
):
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        args, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        if wait_url:
            wait_for(wait_url)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        if log_file:
            out.close()


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout} s")


def wrk(
    url: str, script: Path, *, duration: int = 10, connections: int = 32, env: dict | None = None
) -> dict:
    out = subprocess.run(
        [
            require_tool("wrk"),
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": p99, "non_2xx": int(non2xx.group(1)) if non2xx else 0, "raw": out}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def median(values: list[float]) -> float:
    return statistics.median(values)


def peak_rss_mb(time_v_output: str) -> float:
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_v_output).group(1))
    return kb / 1024


def seed_demo(env: dict[str, str], size: int) -> None:
    """`flask seed-demo --size N` into env's DATABASE_URL, keeping the bench's staff tokens apart."""
    subprocess.run(
        [
            str(BIN / "flask"),
            "--app",
            "backend",
            "seed-demo",
            "--size",
            str(size),
            "--credentials-file",
            str(RESULTS / "bench-credentials.txt"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
