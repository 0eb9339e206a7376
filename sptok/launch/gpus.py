"""GPU assignment of the local backend: which GPUs this machine shows, and disjoint groups of
them, one per job running at once."""
from __future__ import annotations

import os
import subprocess
from typing import List, Optional, Sequence

from sptok.launch.errors import LaunchError


def visible_gpus() -> List[str]:
    """The GPUs jobs here may use: CUDA_VISIBLE_DEVICES when set, else those ``nvidia-smi -L``
    lists (none without it)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    try:
        out = subprocess.run([os.environ.get("SPTOK_NVIDIA_SMI", "nvidia-smi"), "-L"],
                             capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, _ in enumerate(l for l in out.stdout.splitlines()
                                         if l.startswith("GPU "))]


def gpu_groups_for(gpus_per_job: int, gpus: Sequence[str]) -> Optional[List[str]]:
    """Disjoint CUDA_VISIBLE_DEVICES values of ``gpus_per_job`` GPUs each (one per job running
    at once); None when this machine shows no GPU (the jobs then see what they see)."""
    if gpus_per_job < 1 or not gpus:
        return None
    if gpus_per_job > len(gpus):
        raise LaunchError(f"--gpu {gpus_per_job}: only {len(gpus)} GPU(s) here "
                          f"({','.join(gpus)})")
    return [",".join(gpus[i:i + gpus_per_job])
            for i in range(0, len(gpus) - gpus_per_job + 1, gpus_per_job)]
