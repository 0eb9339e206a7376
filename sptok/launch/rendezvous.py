"""The c10d rendezvous of a multi-node training: its endpoint, whether this machine hosts it,
the id every node computes alike, and the log names of the other nodes."""
from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path

from sptok.launch.errors import LaunchError

#: HOST, HOST:PORT or [IPv6]:PORT of a c10d rendezvous.
_ENDPOINT = re.compile(r"[A-Za-z0-9_.\-]+(:[0-9]+)?|\[[0-9a-fA-F:]+\](:[0-9]+)?")


def check_endpoint(endpoint: str, source: str) -> None:
    """Raise LaunchError naming ``source`` (the option or variable) unless ``endpoint`` is
    HOST, HOST:PORT or [IPv6]:PORT."""
    if not _ENDPOINT.fullmatch(endpoint):
        raise LaunchError(f"{source} takes HOST or HOST:PORT, got {endpoint!r}")


def endpoint_host(endpoint: str) -> str:
    """The host of an endpoint checked by :func:`check_endpoint` (brackets of IPv6 removed)."""
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 or "]" in endpoint else endpoint
    return host.strip("[]")


def is_this_host(host: str) -> bool:
    """True when ``host`` names this machine (by name or a loopback / own address)."""
    names = {"localhost", socket.gethostname(), socket.gethostname().split(".")[0]}
    if host in names or host.startswith("127.") or host == "::1":
        return True
    try:
        own = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None)}
        return bool(own & {a[4][0] for a in socket.getaddrinfo(host, None)})
    except OSError:
        return False


def node_log(log: str, host: str) -> str:
    """Log of a non-rendezvous node: ``train.log`` -> ``train.<host>.log``."""
    path = Path(log)
    stem, suffix = (path.stem, path.suffix) if path.suffix == ".log" else (path.name, "")
    return str(path.with_name(f"{stem}.{host}{suffix or '.log'}"))


def default_rdzv_id(log: str) -> str:
    """A rendezvous id every node computes alike: from the absolute log path (the recipe
    directory is shared between the nodes)."""
    return "sptok-" + hashlib.sha1(os.path.abspath(log).encode("utf-8")).hexdigest()[:12]
