"""What every ``citymap`` command is handed: the settings, the engine, one-line errors.

The settings are read when the root command runs (``CITYMAP_*`` variables,
``CITYMAP_CONFIG``), never at import time; the engine is made on first use, so that
``citymap --help`` and the route benchmark need no database.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field

import click
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from geo.errors import CitymapError, ImportRejected, RowError
from geo.settings import Settings

MAX_LISTED_ROW_ERRORS = 50


@dataclass
class CliContext:
    """The click context object of one ``citymap`` invocation."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        """The engine of ``settings.resolved_database_url``, made on first use."""
        if self._engine is None:
            from geo.store.db import make_engine

            s = self.settings
            self._engine = make_engine(s.resolved_database_url, busy_timeout_ms=s.sqlite_busy_timeout_ms,
                                       postgis_parallel_workers=s.postgis_parallel_workers)
        return self._engine


pass_cli = click.make_pass_decorator(CliContext)


def echo_row_errors(errors: list[RowError]) -> None:
    """The first rejected rows on standard error, then how many more."""
    for row_error in errors[:MAX_LISTED_ROW_ERRORS]:
        click.echo(f"  {row_error}", err=True)
    if len(errors) > MAX_LISTED_ROW_ERRORS:
        click.echo(f"  … and {len(errors) - MAX_LISTED_ROW_ERRORS} more", err=True)


def one_line_errors(func):
    """Turn citymap's errors into one line on stderr (and the rejected rows above it) and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ImportRejected as err:
            echo_row_errors(err.errors)
            click.echo(f"error: {err.message}", err=True)
            sys.exit(1)
        except CitymapError as err:
            click.echo(f"error: {err.message}", err=True)
            sys.exit(1)
        except (SQLAlchemyError, OSError) as err:
            # the database or the file system refused: say which, in one line
            click.echo(f"error: {type(err).__name__}: {str(err).splitlines()[0]}", err=True)
            sys.exit(1)

    return wrapper
