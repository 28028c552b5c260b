"""``citymap serve`` and ``citymap demo``: the web app on waitress."""

from __future__ import annotations

import ipaddress

import click

from geo.errors import ConfigError
from geo.settings import DEV_SECRET_KEY, Settings
from webmap.cli.commands import load_sample_cmd
from webmap.cli.context import CliContext, one_line_errors, pass_cli
from webmap.cli.notify import start_notifier


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--notify-every", "notify_every", type=float, default=0.0, show_default=True,
              help="Also fill and send the notification outbox every this many seconds (0: leave it to "
                   "`citymap notify run`).")
@pass_cli
@one_line_errors
def serve_cmd(cli: CliContext, host: str, port: int, notify_every: float) -> None:
    """Serve the web app on the configured database (on an address others reach, only with a secret_key of its own)."""
    _serve(cli.settings, host, port, notify_every=notify_every)


def _serve(settings: Settings, host: str, port: int, *, notify_every: float = 0.0) -> None:
    import gc

    from waitress import serve

    from webmap.app import create_app

    if settings.secret_key == DEV_SECRET_KEY and not _is_loopback(host):
        # the published key would let anyone who can reach the server sign a session cookie of their own
        raise ConfigError(f"refusing to serve on {host!r} with the development secret key: set CITYMAP_SECRET_KEY "
                          "(or secret_key in the CITYMAP_CONFIG file) to a long random value, e.g. the output of "
                          "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if notify_every < 0:
        raise ConfigError(f"--notify-every {notify_every!r}: expected 0 (off) or a number of seconds")
    app = create_app(settings)
    if notify_every:
        start_notifier(settings, notify_every)
    # What exists now (modules, the app) lives as long as the process: kept out of the
    # collector's full passes, which walked it all every few dozen 1,000-issue pages and
    # made their p99 (in process, 120k issues: 95 -> 17 ms).
    gc.freeze()
    click.echo(f"citymap serving on http://{host}:{port}/  (Ctrl+C stops)")
    serve(app, host=host, port=port, threads=8)


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


