"""Fetch the vendored front-end assets from the npm registry, check them, write them in place.

Run ``python scripts/vendor_assets.py`` to re-create the committed files (after changing a
pin below: a new version, its tarball's sha256 and the files taken from it), or
``python scripts/vendor_assets.py --check`` to verify that the committed files are exactly
what the pinned tarballs hold. Each package's licence is written beside its files.
Nothing here runs when the service runs: the service serves the committed files.
"""

import argparse
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "app" / "web" / "static" / "vendor"
TEST_ASSETS = ROOT / "tests" / "web" / "vendor"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    sha256: str  # of the registry's tarball
    files: dict[str, Path]  # member of the tarball -> where it goes

    @property
    def tarball_url(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return f"{REGISTRY}/{self.name}/-/{base}-{self.version}.tgz"


PACKAGES = [
    Package(
        "htmx.org",
        "2.0.11",
        "165a2655073e9e6e55e307a7c74e8ebcdb76afb7701f9c16cfd106a13add408e",
        {
            "package/dist/htmx.min.js": STATIC / "htmx-2.0.11.min.js",
            "package/LICENSE": STATIC / "htmx-2.0.11.LICENSE.txt",
        },
    ),
    Package(
        "@picocss/pico",
        "2.1.1",
        "4affbb56f49df6d5325610b06762156f1dcdbc6ef57cea5c136d7e8a00a8cd24",
        {
            "package/css/pico.min.css": STATIC / "pico-2.1.1.min.css",
            "package/LICENSE.md": STATIC / "pico-2.1.1.LICENSE.md",
        },
    ),
    # Test asset only: the accessibility checker the browser tests inject in each page.
    Package(
        "axe-core",
        "4.14.1",
        "e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745",
        {
            "package/axe.min.js": TEST_ASSETS / "axe-4.14.1.min.js",
            "package/LICENSE": TEST_ASSETS / "axe-4.14.1.LICENSE.txt",
        },
    ),
]


def fetch(package: Package) -> dict[str, bytes]:
    """Download the tarball, check its sha256, return the wanted members' bytes."""
    with urllib.request.urlopen(package.tarball_url, timeout=60) as response:
        tarball = response.read()
    digest = hashlib.sha256(tarball).hexdigest()
    if digest != package.sha256:
        raise SystemExit(
            f"{package.name}@{package.version}: sha256 {digest} is not the pinned {package.sha256}"
        )
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in package.files:
            extracted = archive.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{package.name}@{package.version}: no file {member}")
            out[member] = extracted.read()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    differ = []
    for package in PACKAGES:
        for member, content in fetch(package).items():
            target = package.files[member]
            if args.check:
                if not target.exists() or target.read_bytes() != content:
                    differ.append(str(target.relative_to(ROOT)))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            print(f"{target.relative_to(ROOT)}  ({package.name}@{package.version})")
    if differ:
        print("differ from the pinned tarballs: " + ", ".join(differ), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
