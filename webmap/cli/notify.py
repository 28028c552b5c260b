"""``citymap notify``: the notification webhooks and the job that fills and sends the outbox.

``notify run`` does one round (:func:`geo.loop.notify.run_notifications`), or one every
``--every`` seconds; ``citymap serve --notify-every N`` runs the same loop in a thread
of the one-process server (:func:`start_notifier`), or beside gunicorn's workers in a
process of its own (:func:`start_notifier_process`), so that it runs once.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import click

from geo.settings import Settings
from webmap.cli.context import CliContext, one_line_errors, pass_cli

log = logging.getLogger(__name__)


def notify_round(engine, settings: Settings):
    """One round of notifications now (:func:`geo.loop.notify.run_notifications`)."""
    from geo.clock import local_now
    from geo.loop.notify import run_notifications

    return run_notifications(engine, settings, now=local_now())


def start_notifier(settings: Settings, every_s: float) -> threading.Event:
    """Run :func:`notify_round` every ``every_s`` seconds in a daemon thread; set the returned event to stop it.

    A round that fails (the database busy, say) is logged and the next one runs on time.
    """
    stop = threading.Event()
    threading.Thread(target=_notify_every, args=(settings, every_s, stop), name="citymap-notify", daemon=True).start()
    return stop


def start_notifier_process(settings: Settings, every_s: float) -> subprocess.Popen:
    """Run :func:`notify_round` every ``every_s`` seconds in a process of its own (beside a server's workers).

    The process is a fresh interpreter (:func:`notifier_main`, the settings handed over
    on its standard input): nothing of this process's connections, sockets
    or children, which gunicorn's forked workers share. It logs each round on standard
    error, ends on SIGTERM or SIGINT, and ends by itself when this process is gone.
    """
    process = subprocess.Popen([sys.executable, "-c", _NOTIFIER_PROCESS, str(every_s), str(os.getpid())],
                               stdin=subprocess.PIPE)
    process.stdin.write(pickle.dumps(settings))
    process.stdin.close()
    return process


#: what the notifier process runs: python -c _NOTIFIER_PROCESS EVERY_S PARENT_PID
_NOTIFIER_PROCESS = "import sys; from webmap.cli.notify import notifier_main; notifier_main(*sys.argv[1:])"


def notifier_main(every_s: str, parent_pid: str) -> None:
    """The notifier process: rounds until a signal, or until the server that started it is gone."""
    settings = pickle.load(sys.stdin.buffer)  # written by start_notifier_process, our parent
    logging.basicConfig(format="[citymap-notify %(process)d] %(levelname)s %(message)s")
    log.setLevel(logging.INFO)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    notifier = threading.Thread(target=_notify_every, args=(settings, float(every_s), stop), name="citymap-notify")
    notifier.start()
    # the server ends us on its way out; if it is killed outright, we are handed to another parent
    while not stop.wait(1.0):
        if os.getppid() != int(parent_pid):
            stop.set()
    notifier.join()


def _notify_every(settings: Settings, every_s: float, stop: threading.Event) -> None:
    """A round every ``every_s`` seconds until ``stop`` is set, on an engine of its own."""
    from geo.store.db import make_engine

    engine = make_engine(settings.resolved_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                         postgis_parallel_workers=settings.postgis_parallel_workers)
    while not stop.is_set():
        try:
            log.info("notification round: %s", notify_round(engine, settings).summary())
        except Exception:  # noqa: BLE001 - the server must outlive one bad round; the outbox keeps every message
            log.exception("notification round failed")
        stop.wait(every_s)
    engine.dispose()


@click.group("notify")
def notify_group() -> None:
    """Notifications to webhooks: dispatched, due soon, overdue, closed."""


@notify_group.command("run")
@click.option("--every", "every_s", type=float, default=None,
              help="Repeat every this many seconds until stopped (default: one round).")
@pass_cli
@one_line_errors
def notify_run_cmd(cli: CliContext, every_s: float | None) -> None:
    """Queue what happened since the last rounds and deliver what is due (retrying what failed)."""
    from geo.errors import ValidationError

    if every_s is not None and not every_s > 0:
        raise ValidationError(f"--every {every_s!r}: expected a number of seconds above 0")
    while True:
        click.echo(notify_round(cli.engine, cli.settings).summary())
        if every_s is None:
            return
        time.sleep(every_s)


@notify_group.group("webhook")
def webhook_group() -> None:
    """Where a department's, or one report's, notifications are POSTed."""


_TARGETS = [
    click.option("--department", "department", default=None, help="A department code (sanitation, …)."),
    click.option("--token", "token", default=None, help="A report's tracking token (the end of its tracking link)."),
]


def _targets(func):
    for option in reversed(_TARGETS):
        func = option(func)
    return func


@webhook_group.command("set")
@click.argument("url")
@_targets
@pass_cli
@one_line_errors
def webhook_set_cmd(cli: CliContext, url: str, department: str | None, token: str | None) -> None:
    """POST the notifications of a department or of one report to URL; prints the signing secret last."""
    from geo.clock import local_now
    from geo.loop.notify import set_webhook

    secret = set_webhook(cli.engine, cli.settings, url, now=local_now(), department_code=department, token=token)
    whose = f"department {department}" if department else "the report of that token"
    click.echo(f"notifications of {whose} go to {url}; each body is signed (X-Citymap-Signature: sha256=HMAC) "
               "with this secret:")
    click.echo(secret)


@webhook_group.command("remove")
@_targets
@pass_cli
@one_line_errors
def webhook_remove_cmd(cli: CliContext, department: str | None, token: str | None) -> None:
    """Stop the notifications of a department or of one report (its undelivered ones are dropped)."""
    from geo.loop.notify import remove_webhook

    n = remove_webhook(cli.engine, cli.settings, department_code=department, token=token)
    click.echo("webhook removed" if n else "there was no such webhook")


@webhook_group.command("list")
@pass_cli
@one_line_errors
def webhook_list_cmd(cli: CliContext) -> None:
    """The webhooks: a department's by code, a report's by its number (tokens are not stored)."""
    from geo import store

    hooks = store.read_webhooks(cli.engine, jurisdiction_code=cli.settings.jurisdiction_code)
    for hook in hooks.itertuples():
        whose = f"department {hook.department_code}" if isinstance(hook.department_code, str) else \
            f"report #{hook.issue_id}"
        click.echo(f"{whose}\t{hook.url}")
    click.echo(f"{len(hooks)} webhooks")

