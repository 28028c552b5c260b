"""``citymap serve`` and ``citymap demo``: the web app on waitress, or on gunicorn's worker processes.

One process (the default) is waitress with 8 threads: Python runs one thread at a time, so
it uses one core for the app's own work. ``--workers N`` serves with gunicorn: N processes,
each with the app and its own connection pool, accept from one socket. What
the workers share lives in the database (sessions, the login throttle, the CSRF token in
the session), so a user may be answered by any of them. The notifier of
``--notify-every`` runs once: a thread of the one process, or a process of its own beside
the workers.
"""

from __future__ import annotations

import ipaddress

import click

from geo.errors import ConfigError
from geo.settings import DEV_SECRET_KEY, Settings
from webmap.cli.commands import load_sample_cmd
from webmap.cli.context import CliContext, one_line_errors, pass_cli
from webmap.cli.notify import start_notifier, start_notifier_process

#: threads of the one-process server (waitress)
THREADS = 8
#: gunicorn's worker class and threads per worker. Threads let a worker run one request's Python
#: while others wait on the database, which does most of an OGC API page's work: on 2 cores with
#: PostGIS beside them, one "sync" worker (a request at a time) served 23.5 pages/s and two 35.1,
#: one gthread worker 50.3 and two 60.0 (scripts/bench_ogcapi_peers.py, the machine shared).
WORKER_CLASS, WORKER_THREADS = "gthread", 4


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Serve with gunicorn: this many worker processes (about one per core). Without it one "
                   "process serves (waitress).")
@click.option("--notify-every", "notify_every", type=float, default=0.0, show_default=True,
              help="Also fill and send the notification outbox every this many seconds (0: leave it to "
                   "`citymap notify run`); one notifier whatever the workers.")
@pass_cli
@one_line_errors
def serve_cmd(cli: CliContext, host: str, port: int, workers: int | None, notify_every: float) -> None:
    """Serve the web app on the configured database (on an address others reach, only with a secret_key of its own)."""
    _serve(cli.settings, host, port, workers=workers, notify_every=notify_every)


def _serve(settings: Settings, host: str, port: int, *, workers: int | None = None,
           notify_every: float = 0.0) -> None:
    if settings.secret_key == DEV_SECRET_KEY and not _is_loopback(host):
        # the published key would let anyone who can reach the server sign a session cookie of their own
        raise ConfigError(f"refusing to serve on {host!r} with the development secret key: set CITYMAP_SECRET_KEY "
                          "(or secret_key in the CITYMAP_CONFIG file) to a long random value, e.g. the output of "
                          "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if notify_every < 0:
        raise ConfigError(f"--notify-every {notify_every!r}: expected 0 (off) or a number of seconds")
    if workers is not None:
        _serve_workers(settings, host, port, workers=workers, notify_every=notify_every)
        return
    from waitress import serve

    app = _app(settings)
    if notify_every:
        start_notifier(settings, notify_every)
    click.echo(f"citymap serving on http://{_url_host(host)}:{port}/  (Ctrl+C stops)")
    serve(app, host=host, port=port, threads=THREADS)


def _app(settings: Settings):
    """The app of one serving process, what exists at its start kept out of the garbage collector's passes."""
    import gc

    from webmap.app import create_app

    app = create_app(settings)
    # What exists now (modules, the app) lives as long as the process: kept out of the
    # collector's full passes, which walked it all every few dozen 1,000-issue pages and
    # made their p99 (in process, 120k issues: 95 -> 17 ms).
    gc.freeze()
    return app


def _serve_workers(settings: Settings, host: str, port: int, *, workers: int, notify_every: float) -> None:
    """Serve with gunicorn: this process is the master, each worker makes its own app (and engine) after the fork."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError as exc:  # gunicorn runs on POSIX systems only
        raise ConfigError(f"--workers {workers}: gunicorn is not installed here ({exc}); serve with one worker"
                          ) from exc

    notifier = []

    def when_ready(_arbiter) -> None:
        if notify_every:
            notifier.append(start_notifier_process(settings, notify_every))
        click.echo(f"citymap serving on http://{_url_host(host)}:{port}/ with {workers} worker process"
                   f"{'es' if workers > 1 else ''}  (Ctrl+C stops)")

    def on_exit(_arbiter) -> None:
        for process in notifier:
            process.terminate()
            process.wait(10)

    options = {
        "bind": f"{_url_host(host)}:{port}", "workers": workers, "worker_class": WORKER_CLASS,
        "threads": WORKER_THREADS,
        # the client's address and scheme come from X-Forwarded-* only through the app's ProxyFix,
        # as many proxies deep as trusted_proxies says; gunicorn would trust them from 127.0.0.1
        "forwarded_allow_ips": "", "proxy_allow_ips": "",
        "control_socket_disable": True, "when_ready": when_ready, "on_exit": on_exit,
    }

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # control_socket_disable came with gunicorn 25.1
                    self.cfg.set(key, value)

        def load(self):
            return _app(settings)

    Server().run()


def _url_host(host: str) -> str:
    """``host`` as it is written in a URL or gunicorn's bind (an IPv6 address in brackets)."""
    try:
        return f"[{host.strip('[]')}]" if ipaddress.ip_address(host.strip("[]")).version == 6 else host
    except ValueError:
        return host


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is reached from this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("demo")
@click.option("--port", default=5000, show_default=True, type=int)
@pass_cli
@one_line_errors
def demo_cmd(cli: CliContext, port: int) -> None:
    """Create the embedded database, load the Jinqiao sample if it is empty, and serve it."""
    from geo import store
    from geo.store.db import init_db

    engine, settings = cli.engine, cli.settings
    init_db(engine)
    if store.count_rows(engine, "jurisdictions", jurisdiction_code=settings.jurisdiction_code) == 0:
        click.get_current_context().invoke(load_sample_cmd, issues=True)
        from geo.clock import local_now
        from geo.loop import users

        # Demo-only accounts with a published password, so that the demo can be logged in to at once;
        # a real deployment creates its users with `citymap user create`.
        for name, role, department in DEMO_ACCOUNTS:
            store.create_user(engine, name=name, password_hash=users.hash_password(DEMO_PASSWORD), role=role,
                              department_code=department, jurisdiction_code=settings.jurisdiction_code,
                              now=local_now())
    else:
        click.echo("sample already loaded; `make clean` starts afresh")
    click.echo("demo accounts (password " + DEMO_PASSWORD + "): " + ", ".join(f"{n} ({r})" for n, r, _ in DEMO_ACCOUNTS))
    _serve(settings, "127.0.0.1", port)


DEMO_PASSWORD = "jinqiao-demo"
DEMO_ACCOUNTS = (("supervisor", "supervisor", None), ("dispatcher", "dispatcher", None),
                 ("sanitation", "department", "sanitation"), ("citizen", "public", None))
