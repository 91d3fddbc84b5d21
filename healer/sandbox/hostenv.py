"""What the dependency-install step borrows from the host, so that pip and npm inside the
sandbox reach their registries the way the host does: the CA bundle (TLS interception,
corporate proxies), proxy variables and package-index settings. Nothing else, and never
credentials such as API keys."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from healer.hostpython import host_python
from healer.sandbox.project import CA_BUNDLE

log = logging.getLogger(__name__)

HOST_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)
PASSED_VARIABLES = (
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT",
    "NPM_CONFIG_REGISTRY", "npm_config_registry",
)
# pip configuration keys worth carrying over, as the PIP_* variable that sets each
PIP_CONFIG_KEYS = {
    "index-url": "PIP_INDEX_URL",
    "extra-index-url": "PIP_EXTRA_INDEX_URL",
    "trusted-host": "PIP_TRUSTED_HOST",
    "timeout": "PIP_DEFAULT_TIMEOUT",
    "default-timeout": "PIP_DEFAULT_TIMEOUT",
}


def host_ca_bundle() -> Path | None:
    """The host's CA bundle: $SSL_CERT_FILE / $PIP_CERT / $REQUESTS_CA_BUNDLE, else the usual places."""
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return next((Path(p) for p in HOST_CA_BUNDLES if Path(p).is_file()), None)


def _reachable_urls(value: str) -> str | None:
    """Keep only http(s) URLs: file:// indexes on the host do not exist in the sandbox."""
    urls = [u for u in value.split() if u.startswith(("http://", "https://"))]
    dropped = [u for u in value.split() if u not in urls]
    if dropped:
        log.info("not passing host-only pip locations into the sandbox: %s", " ".join(dropped))
    return " ".join(urls) or None


def pip_config() -> dict[str, str]:
    """PIP_* variables equivalent to the host's `pip config list` (index, trusted hosts)."""
    try:
        out = subprocess.run(
            host_python("pip", "config", "list"),
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        var = PIP_CONFIG_KEYS.get(name)
        value = value.strip().strip("'\"")
        if var and value:
            kept = _reachable_urls(value) if name.endswith("url") else value
            if kept:
                found[var] = kept
    return found


def install_environment(ca_bundle: str = CA_BUNDLE) -> dict[str, str]:
    """Variables for the install step: pip config, then explicit host variables on top;
    `ca_bundle` is where the step finds the host's CA bundle."""
    env = pip_config()
    for var in PASSED_VARIABLES:
        value = os.environ.get(var)
        if value:
            env[var] = _reachable_urls(value) if var.endswith("URL") else value
    env = {k: v for k, v in env.items() if v}
    env.update(
        {
            "PIP_CERT": ca_bundle,
            "SSL_CERT_FILE": ca_bundle,
            "REQUESTS_CA_BUNDLE": ca_bundle,
            "NODE_EXTRA_CA_CERTS": ca_bundle,
            "NPM_CONFIG_CAFILE": ca_bundle,
            "PIP_BREAK_SYSTEM_PACKAGES": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    )
    return env


def carries_credentials(env: dict[str, str]) -> bool:
    """Whether an index or proxy URL of the install environment holds a user name or token
    (what a package's build code could read from its environment and send on)."""
    from urllib.parse import urlsplit

    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "HTTP_PROXY", "HTTPS_PROXY",
                "http_proxy", "https_proxy"):
        for url in env.get(var, "").split():
            if "@" in urlsplit(url if "//" in url else f"//{url}").netloc:
                return True
    return False
