"""The flags that say what a layer file leaves out, shared by ``import``, ``grid build`` and ``route sweep``."""

from __future__ import annotations

import functools

import click

from geo.layers import DEFAULT_ROAD_CLASS


def _names(text: str | None) -> tuple[str, ...]:
    """``津北公路,先锋东路`` (also with 、 or ，) → the names."""
    if not text:
        return ()
    return tuple(part.strip() for part in text.replace("、", ",").replace("，", ",").split(",") if part.strip())


def layer_flags(*, roads: bool = True):
    """Add ``--id-column`` (and, for roads, ``--default-class``, ``--priority``, ``--oneway``) to a command.

    The command receives them as one keyword, ``layer_options``: a dict of
    :class:`geo.io.layer_fill.LayerOptions` fields.
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, id_column, default_class=DEFAULT_ROAD_CLASS, priority=None, oneway=None, **kwargs):
            options = {"id_column": id_column, "default_class": default_class, "priority": _names(priority),
                       "oneway": _names(oneway)}
            return func(*args, layer_options=options, **kwargs)

        flags = [click.option("--id-column", default=None,
                              help="The file's column holding the features' ids (road_id or code), "
                                   "under any header; without one, ids are made from geometry and name.")]
        if roads:
            flags += [
                click.option("--default-class", default=DEFAULT_ROAD_CLASS, show_default=True,
                             help="Road class where the file gives none (arterial, secondary, branch, alley "
                                  "or 主干路/次干路/支路/背街小巷)."),
                click.option("--priority", default=None,
                             help="Priority roads, by name or id, comma-separated (e.g. 津北公路,先锋东路)."),
                click.option("--oneway", default=None,
                             help="One-way roads (along the direction they are drawn), by name or id, comma-separated."),
            ]
        for flag in reversed(flags):
            wrapper = flag(wrapper)
        return wrapper

    return decorate
