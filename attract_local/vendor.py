"""The dashboard's and API docs' third-party files, fetched from the npm registry, pinned and checked.

`functions/web/static/vendor/manifest.json` is the truth: for each package its version, the tarball's
address and npm integrity (sha512), and for each file taken from it the path it is kept under and its sha256.

    python -m attract_local.vendor            # download the pinned tarballs, check them, (re)write the files
    python -m attract_local.vendor --check    # offline: the kept files are exactly the manifest's
    python -m attract_local.vendor --record   # after changing a version: write the new integrity and sha256s

No CDN at run time: the files are served by the web function from its own package (attract.web).
"""

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

from attract_local.cfn import ROOT

VENDOR_DIR = ROOT / "functions" / "web" / "static" / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"
REGISTRY = "https://registry.npmjs.org"


def load_manifest(path: Path = MANIFEST) -> dict:
    return json.loads(path.read_text())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def integrity(data: bytes) -> str:
    """npm's Subresource-Integrity style digest of a tarball (`dist.integrity`)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def tarball_url(name: str, version: str) -> str:
    return f"{REGISTRY}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as answer:  # a fixed https registry address
        return answer.read()


def extract(tarball: bytes, wanted: list[str]) -> dict[str, bytes]:
    """The wanted files (paths inside the package, without npm's leading `package/`), nothing else unpacked."""
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            inner = member.name.split("/", 1)[1] if "/" in member.name else member.name
            if inner in wanted and member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                found[inner] = handle.read()
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise SystemExit(f"not in the tarball: {missing}")
    return found


def vendor(record: bool = False) -> list[str]:
    """Download, verify and write every package's files; with `record`, write the digests found instead."""
    manifest = load_manifest()
    lines = []
    for package in manifest["packages"]:
        url = tarball_url(package["name"], package["version"])
        tarball = _download(url)
        digest = integrity(tarball)
        if record:
            package["tarball"], package["integrity"] = url, digest
        elif digest != package["integrity"]:
            raise SystemExit(f"{package['name']}@{package['version']}: tarball integrity {digest} != manifest")
        contents = extract(tarball, list(package["files"]))
        for inner, entry in package["files"].items():
            data = contents[inner]
            if record:
                entry["sha256"] = sha256(data)
            elif sha256(data) != entry["sha256"]:
                raise SystemExit(f"{package['name']}/{inner}: sha256 differs from the manifest")
            target = VENDOR_DIR / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        lines.append(f"{package['name']}@{package['version']}: {len(package['files'])} files, {digest[:20]}…")
    if record:
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return lines


def check(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Offline: every kept file against the manifest's sha256; returns the problems (empty when all match)."""
    problems = []
    for package in load_manifest(vendor_dir / "manifest.json")["packages"]:
        for inner, entry in package["files"].items():
            path = vendor_dir / entry["path"]
            if not path.is_file():
                problems.append(f"{entry['path']}: missing")
            elif sha256(path.read_bytes()) != entry["sha256"]:
                problems.append(f"{entry['path']}: sha256 differs from {package['name']}@{package['version']}/{inner}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="offline: compare the kept files with the manifest")
    parser.add_argument("--record", action="store_true", help="write the downloaded digests into the manifest")
    args = parser.parse_args()
    if args.check:
        problems = check()
        print("\n".join(problems) or "vendored files match the manifest")
        sys.exit(1 if problems else 0)
    print("\n".join(vendor(record=args.record)))


if __name__ == "__main__":
    main()
