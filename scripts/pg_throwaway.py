"""Start and stop a throwaway PostgreSQL + PostGIS cluster on 127.0.0.1.

Used by the test suite and the benchmarks. PostgreSQL refuses to run as root, so
when we are root the server runs as the ``postgres`` system user (Debian's
postgresql package creates it) through ``runuser``.

    python scripts/pg_throwaway.py start DIR   # prints the SQLAlchemy URL
    python scripts/pg_throwaway.py stop DIR
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def pg_bindir() -> Path:
    """The newest installed PostgreSQL server's bin directory (Debian layout)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql postgis)")


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(base: Path) -> str:
    """initdb a cluster under ``base``, start it, create the postgis extension; return its URL."""
    bindir = pg_bindir()
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(
        _as_server_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]),
        check=True, capture_output=True,
    )
    port = resume(base)
    subprocess.run(
        [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres",
         "-v", "ON_ERROR_STOP=1", "-c", "CREATE EXTENSION postgis"],
        check=True, capture_output=True,
    )
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def resume(base: Path) -> int:
    """Start the cluster already made under ``base`` (by :func:`start`) on a free port; return the port."""
    port = _free_port()
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off -c max_connections=60"
    subprocess.run(
        _as_server_user([str(pg_bindir() / "pg_ctl"), "-D", str(base / "data"), "-o", opts, "-l", str(base / "server.log"),
                         "-w", "start"]),
        check=True, capture_output=True,
    )
    (base / "port").write_text(str(port))
    return port


def stop(base: Path, *, keep: bool = False) -> None:
    """Stop the cluster under ``base`` (fast shutdown) and remove its files (``keep``: leave them for :func:`resume`)."""
    data = base / "data"
    if data.exists():
        subprocess.run(_as_server_user([str(pg_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       check=False, capture_output=True)
    if not keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in {"start", "stop"}:
        sys.exit(__doc__)
    target = Path(sys.argv[2]) if sys.argv[2] else Path(tempfile.mkdtemp())
    print(start(target) if sys.argv[1] == "start" else stop(target) or "stopped")
