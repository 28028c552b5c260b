"""The one blueprint of the pages for people; each module of :mod:`webmap.pages` adds its surface to it.

One blueprint, so that every page's endpoint is ``pages.<name>`` whichever module serves it.
"""

from flask import Blueprint

bp = Blueprint("pages", __name__)
