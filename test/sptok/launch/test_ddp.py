"""``--ddp true``: the options of a distributed training and its torchrun command lines."""
from __future__ import annotations

import pytest

from sptok.launch.ddp import pop_ddp_request
from sptok.launch.errors import LaunchError
from sptok.launch.job_array import JobArray


def ddp(options: dict, command=("python", "-m", "sptok.bin.train", "--config", "c.yaml"),
        log="exp/train.log"):
    opts = dict(options)
    return pop_ddp_request(opts, JobArray(log=log, command=tuple(command))), opts


def test_torchrun_command_one_node_and_several():
    request, left = ddp({"ddp": "true", "gpu": "4", "num_threads": "2", "mem": "8G"})
    assert left == {"gpu": "4", "num_threads": "2", "mem": "8G"}  # for the scheduler
    assert (request.nproc_per_node, request.num_nodes) == (4, 1)
    assert request.torchrun(None, None) == [
        "python", "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "4",
        "--standalone", "-m", "sptok.bin.train", "--config", "c.yaml"]
    request, left = ddp({"ddp": "true", "nproc_per_node": "2", "num_nodes": "3",
                         "rdzv_endpoint": "node1:29400"}, command=("python3", "train.py", "x"))
    assert "num_nodes" not in left  # the launcher places the nodes itself
    assert request.torchrun(request.rdzv_endpoint, "job7") == [
        "python3", "-m", "torch.distributed.run", "--nnodes", "3", "--nproc_per_node", "2",
        "--rdzv_backend", "c10d", "--rdzv_endpoint", "node1:29400", "--rdzv_id", "job7",
        "train.py", "x"]
    assert ddp({"gpu": "1"}) == (None, {"gpu": "1"})  # not distributed


@pytest.mark.parametrize("options, command, message", [
    ({"nproc_per_node": "2"}, ("python", "t.py"), "add --ddp true"),
    ({"ddp": "yes"}, ("python", "t.py"), "takes true or false"),
    ({"ddp": "true"}, ("bash", "-c", "python t.py"), "PYTHON -m MODULE"),
    ({"ddp": "true"}, ("python", "-c", "print(1)"), "PYTHON -m MODULE"),
    ({"ddp": "true"}, ("python", "t.py", "|", "tee", "x"), "without shell operators"),
    ({"ddp": "true", "num_nodes": "0"}, ("python", "t.py"), "at least 1"),
    ({"ddp": "true", "gpu": "all"}, ("python", "t.py"), "--gpu takes an integer"),
    ({"ddp": "true", "rdzv_endpoint": "a b:1"}, ("python", "t.py"), "HOST:PORT"),
])
def test_ddp_option_errors(options, command, message):
    with pytest.raises(LaunchError, match=message):
        ddp(options, command)


def test_ddp_refuses_a_job_range():
    with pytest.raises(LaunchError, match="not a job range"):
        pop_ddp_request({"ddp": "true"}, JobArray(log="l.JOB.log", command=("python", "t.py"),
                                                  var="JOB", start=1, end=2))
