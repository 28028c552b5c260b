#!/usr/bin/env python3
"""Fetch the npm packages whose files the app serves (webmap.assets.NPM_ASSETS), checked against their pinned SHA-512.

``npm pack NAME@VERSION`` downloads the package's tarball from the npm registry npm is set up
with (nothing is built or run); the tarball's SHA-512 must equal the integrity pinned in
``webmap/assets.py`` (npm's ``dist.integrity``), else nothing is written and the script fails.
The listed files (the library and its licence files) go to ``webmap/npm/NAME/``. Run by
``make setup`` / ``make setup-test``; a second run with the files in place does nothing.

    .venv/bin/python scripts/fetch_npm_assets.py [--force]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webmap.assets import NPM_ASSETS, NPM_DIR  # noqa: E402


def integrity(data: bytes) -> str:
    """npm's integrity string (Subresource Integrity, SHA-512) of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def fetch(name: str, version: str, expected: str, files: tuple[str, ...], *, force: bool = False) -> str:
    target = NPM_DIR / name
    stamp = target / ".version"
    if not force and stamp.is_file() and stamp.read_text().strip() == f"{version} {expected}" \
            and all((target / Path(f).name).is_file() for f in files):
        stamp.touch()  # newer than webmap/assets.py: make need not ask again
        return f"{name} {version}: already there"
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to fetch the chart library: run scripts/setup_system.sh run")
    with tempfile.TemporaryDirectory(prefix="citymap-npm-") as tmp:
        subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", tmp, "--silent"],
                       check=True, cwd=tmp, stdout=subprocess.DEVNULL)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise SystemExit(f"npm pack {name}@{version} left {len(tarballs)} tarballs")
        data = tarballs[0].read_bytes()
        got = integrity(data)
        if got != expected:
            raise SystemExit(f"{name}@{version}: the tarball's integrity {got} is not the pinned {expected}; "
                             "nothing written")
        staged = Path(tmp) / "staged"
        staged.mkdir()
        with tarfile.open(tarballs[0], "r:gz") as archive:
            for file in files:
                member = archive.getmember(f"package/{file}")
                source = archive.extractfile(member)
                if source is None:
                    raise SystemExit(f"{name}@{version}: {file} is not a file in the package")
                (staged / Path(file).name).write_bytes(source.read())
        (staged / ".version").write_text(f"{version} {expected}\n")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staged, target)
    return f"{name} {version}: fetched, integrity checked, {len(files)} files in {target}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="fetch again even if the files are there")
    args = parser.parse_args()
    for name, (version, expected, files) in NPM_ASSETS.items():
        print(fetch(name, version, expected, files, force=args.force))


if __name__ == "__main__":
    main()
