"""Chromium for the browser session: where it is, the arguments it is launched with (this
extension only, its own log, no network), and the id it gives an unpacked extension."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from pathlib import Path

from healer.checks.extension.routing import NETWORK_FLAGS


def extension_id(directory: Path, key: str | None = None) -> str:
    """The id Chromium gives an unpacked extension: from its manifest key, else its path."""
    material = base64.b64decode(key) if key else os.path.realpath(directory).encode()
    digest = hashlib.sha256(material).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def find_chromium() -> str | None:
    for candidate in (os.environ.get("HEALER_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def chromium_args(extension_dir: str, log_file: Path, *, contained: bool = False) -> list[str]:
    args = [
        f"--disable-extensions-except={extension_dir}",
        f"--load-extension={extension_dir}",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        *NETWORK_FLAGS,
        "--enable-logging",
        f"--log-file={log_file}",
        "--v=0",
    ]
    if contained:
        # the container is the sandbox: Docker's seccomp profile forbids the user namespaces
        # Chromium's own sandbox needs, and /dev/shm is small there
        args += ["--no-sandbox", "--disable-dev-shm-usage"]
    elif hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    return args
