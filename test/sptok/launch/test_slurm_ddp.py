"""The shell text each node of a multi-node Slurm training runs."""
from __future__ import annotations

from sptok.launch.ddp import pop_ddp_request
from sptok.launch.job_array import JobArray
from sptok.launch.slurm_ddp import slurm_ddp_text


def test_slurm_ddp_text_with_a_given_endpoint():
    request = pop_ddp_request({"ddp": "true", "num_nodes": "2", "rdzv_endpoint": "head:29400",
                               "rdzv_id": "run1"},
                              JobArray(log="exp/train.log", command=(
                                  "python", "-m", "sptok.bin.train", "--config", "c.yaml")))
    text = slurm_ddp_text(request, "scontrol")
    assert "scontrol" not in text and "rdzv_endpoint=head:29400;" in text
    assert "--rdzv_endpoint \"${rdzv_endpoint}\" --rdzv_id run1 -m sptok.bin.train" in text
