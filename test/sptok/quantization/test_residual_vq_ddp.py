"""Two CPU processes (gloo): codebooks stay identical across ranks that see different data.

The ranks run this file as a script (``python test_residual_vq_ddp.py RANK PORT OUT_DIR``):
pytest may import test modules under a name a child process cannot import back, which rules out
pickling a worker function for torch.multiprocessing.spawn.
"""
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from sptok.quantization import ResidualVQ

WORLD_SIZE = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_batch(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Different data on each rank (other distribution, other padding)."""
    generator = torch.Generator().manual_seed(100 * rank + step)
    x = torch.randn(3, 6, 10, generator=generator) * (1 + rank) + rank
    lengths = torch.tensor([10, 7, 3 + 2 * rank])
    return x, lengths


def sum_semantics_rvq() -> ResidualVQ:
    torch.manual_seed(0)  # identical random-uniform codebooks on every rank
    return ResidualVQ(dimension=6, n_q=2, codebook_size=8, kmeans_init=False, decay=0.9,
                      threshold_ema_dead_code=0).train()


def worker(rank: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    try:
        # 1. full training path: k-means init, EMA, dead codes, dropout, padding
        torch.manual_seed(1234 + rank)  # ranks draw different dropout and replacement vectors
        rvq = ResidualVQ(dimension=6, n_q=3, codebook_size=8, kmeans_iters=5,
                         threshold_ema_dead_code=2, quantizer_dropout=0.5,
                         dead_code_every=2).train()
        for step in range(5):
            x, lengths = rank_batch(rank, step)
            rvq(x, lengths=lengths)
        # 2. summed statistics: one step from a common codebook
        summed = sum_semantics_rvq()
        x, lengths = rank_batch(rank, 0)
        summed(x, lengths=lengths)
        torch.save({"full": rvq.state_dict(), "summed": summed.state_dict()},
                   os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def run_ranks(out_dir: Path, timeout: float = 120.0) -> None:
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, __file__, str(rank), port, str(out_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in range(WORLD_SIZE)]
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=timeout)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for rank, (proc, log) in enumerate(zip(procs, logs)):
        assert proc.returncode == 0, f"rank {rank} failed:\n{log}"


def test_codebooks_identical_across_ranks(tmp_path):
    run_ranks(tmp_path)
    states = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD_SIZE)]
    full = [s["full"] for s in states]
    for key, value in full[0].items():
        assert torch.equal(value, full[1][key]), f"{key} differs between ranks"
    assert all(full[0][f"vq.layers.{i}._codebook.inited"].item() == 1.0 for i in range(3))

    # the update used both ranks' data: it equals one process's update on the union of frames
    reference = sum_semantics_rvq()
    batches = [rank_batch(r, 0) for r in range(WORLD_SIZE)]
    reference(torch.cat([b[0] for b in batches]), lengths=torch.cat([b[1] for b in batches]))
    for key, value in reference.state_dict().items():
        assert torch.equal(states[0]["summed"][key], states[1]["summed"][key]), key
        torch.testing.assert_close(states[0]["summed"][key], value, msg=key)
    # ... and not rank 0's data alone
    alone = sum_semantics_rvq()
    alone(*batches[0][:1], lengths=batches[0][1])
    assert not torch.allclose(alone.layers[0].codebook.embed, reference.layers[0].codebook.embed)


if __name__ == "__main__":
    worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
