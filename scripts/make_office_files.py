"""Write the made-up files of the README's walkthrough (a boundary, communities, an OSM extract, a 12345 export).

    python scripts/make_office_files.py walk
"""

from __future__ import annotations

import sys

from geo.sample.office_files import write_office_files

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/make_office_files.py FOLDER")
    for kind, path in write_office_files(sys.argv[1]).items():
        print(f"{kind}: {path}")
