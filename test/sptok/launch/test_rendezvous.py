"""The rendezvous of a multi-node training: endpoints, hosts, ids and node log names."""
from __future__ import annotations

import os

import pytest

from sptok.launch.errors import LaunchError
from sptok.launch.rendezvous import (check_endpoint, default_rdzv_id, endpoint_host,
                                     is_this_host, node_log)


def test_node_log_names():
    assert node_log("exp/st/train.log", "gpu07") == "exp/st/train.gpu07.log"
    assert node_log("exp/st/train", "gpu07") == "exp/st/train.gpu07.log"


def test_endpoints_and_their_hosts():
    for endpoint, host in (("node1:29400", "node1"), ("node1", "node1"),
                           ("[fe80::1]:29400", "fe80::1"), ("10.0.0.2:1", "10.0.0.2")):
        check_endpoint(endpoint, "--rdzv_endpoint")
        assert endpoint_host(endpoint) == host
    with pytest.raises(LaunchError, match="SPTOK_RDZV_ENDPOINT takes HOST or HOST:PORT"):
        check_endpoint("node1:port", "SPTOK_RDZV_ENDPOINT")
    assert is_this_host("localhost") and is_this_host("127.0.0.1")


def test_default_rdzv_id_is_the_same_from_every_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rdzv_id = default_rdzv_id("exp/train.log")
    assert rdzv_id == default_rdzv_id(os.path.join(tmp_path, "exp", "train.log"))
    assert rdzv_id.startswith("sptok-") and len(rdzv_id) == len("sptok-") + 12
    assert rdzv_id != default_rdzv_id("exp/other.log")
