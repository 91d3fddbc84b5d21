"""The install step's network: out to the internet (the package index), not to this host or
private ranges.

Docker's default bridge lets a container reach the host at its gateway address and every
private network the host can route to. The install step runs project-chosen packages' code
with network, so it gets a bridge of its own, `healer-install`, whose traffic to the host
itself and to private, loopback, link-local and shared address ranges is dropped by
iptables rules healer adds (idempotently) in the host's INPUT and DOCKER-USER chains. The
package index, the host's DNS resolvers (port 53 only) and the host's proxy when it uses one
stay reachable.

This needs a local daemon, root and iptables. Elsewhere (a remote engine, no iptables) the
install step uses Docker's default bridge, and `restriction()` says so in the install check.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

NETWORK = "healer-install"
BRIDGE = "healer-inst0"
BLOCKED = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
           "100.64.0.0/10", "127.0.0.0/8", "0.0.0.0/8", "198.18.0.0/15", "224.0.0.0/4")
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
COMMENT = "healer-install-egress"


def _iptables(*args: str) -> bool:
    result = subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True,
                            check=False)
    return result.returncode == 0


def _rule(chain: str, spec: list[str]) -> bool:
    """Make sure the rule is in `chain` (inserted at the top); False when it cannot be."""
    if _iptables("-C", chain, *spec):
        return True
    return _iptables("-I", chain, *spec)


def _proxy_addresses() -> list[tuple[str, int]]:
    """The host's proxies, (address, port): they may live in a private range, and the install
    needs them (on their port only)."""
    found = []
    for var in PROXY_VARIABLES:
        value = os.environ.get(var, "").strip()
        url = urlsplit(value if "//" in value else f"//{value}")
        try:
            host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
        except ValueError:  # a port that is not a number
            continue
        if not host:
            continue
        try:
            found += [(info[4][0], port)
                      for info in socket.getaddrinfo(host, None, socket.AF_INET)]
        except OSError:
            continue
    return sorted(set(found))


def _nameservers() -> list[str]:
    """The host's resolvers: Docker forwards a container's DNS queries to them."""
    try:
        lines = Path("/etc/resolv.conf").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                if ipaddress.ip_address(parts[1]).version == 4:
                    found.append(parts[1])
            except ValueError:
                continue
    return found


def _local_daemon(client) -> bool:
    """Whether `client` talks to this machine's daemon over its socket (docker-py names a
    socket connection http+docker://)."""
    return str(getattr(client.api, "base_url", "")).startswith("http+docker://")


def _ensure_network(client) -> bool:
    import docker.errors

    try:
        client.networks.get(NETWORK)
        return True
    except docker.errors.NotFound:
        pass
    try:
        client.networks.create(NETWORK, driver="bridge", labels={"healer.sandbox": "1"},
                               options={"com.docker.network.bridge.name": BRIDGE,
                                        "com.docker.network.bridge.enable_icc": "false"})
        return True
    except docker.errors.APIError as exc:
        log.warning("cannot create the install network %s: %s", NETWORK, exc)
        return False


def _ensure_rules() -> bool:
    mark = ["-m", "comment", "--comment", COMMENT]
    rules = [("INPUT", ["-i", BRIDGE, *mark, "-j", "DROP"])]  # the host itself
    rules += [("DOCKER-USER", ["-i", BRIDGE, "-d", block, *mark, "-j", "DROP"])
              for block in BLOCKED]
    for server in _nameservers():  # DNS only, inserted last so they come first
        for proto in ("udp", "tcp"):
            rules.append(("DOCKER-USER", ["-i", BRIDGE, "-d", f"{server}/32", "-p", proto,
                                          "--dport", "53", *mark, "-j", "RETURN"]))
    for proxy, port in _proxy_addresses():
        if ipaddress.ip_address(proxy).is_private:
            to_proxy = ["-i", BRIDGE, "-d", f"{proxy}/32", "-p", "tcp", "--dport", str(port),
                        *mark, "-j"]
            rules.append(("DOCKER-USER", [*to_proxy, "RETURN"]))
            rules.append(("INPUT", [*to_proxy, "ACCEPT"]))
    return all(_rule(chain, spec) for chain, spec in rules)


def install_network(client) -> tuple[str, str]:
    """(network for the install step, how it is restricted, in words)."""
    if not _local_daemon(client):
        return "bridge", "unrestricted: the Docker engine is remote"
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        return "bridge", "unrestricted: adding firewall rules needs root and iptables"
    if not _ensure_network(client) or not _ensure_rules():
        return "bridge", "unrestricted: the firewall rules could not be added"
    return NETWORK, "internet only: not this host, not private or loopback ranges"
