"""A multi-node training under Slurm: the shell text each node's task runs to find the
rendezvous and start its torchrun."""
from __future__ import annotations

import shlex

from sptok.launch.ddp import DDPRequest

#: First port of the rendezvous ports a Slurm job derives from its id (20000-39999).
RDZV_PORT_BASE = 20000
RDZV_PORT_SPAN = 20000


def slurm_ddp_text(ddp: DDPRequest, scontrol: str) -> str:
    """Shell text one Slurm task runs on each node: find the rendezvous host (the first node of
    the allocation) and start this node's torchrun."""
    endpoint_mark, id_mark = "\0endpoint", "\0id"
    words = ddp.torchrun(endpoint_mark, id_mark)
    rendered = []
    for w in words:
        if w == endpoint_mark:
            rendered.append('"${rdzv_endpoint}"')
        elif w == id_mark:
            rendered.append(shlex.quote(ddp.rdzv_id) if ddp.rdzv_id else '"sptok-${SLURM_JOB_ID}"')
        else:
            rendered.append(shlex.quote(w))
    if ddp.rdzv_endpoint:
        endpoint = f"rdzv_endpoint={shlex.quote(ddp.rdzv_endpoint)}"
    else:
        # Every node derives the same port from the job id (jobs whose ids differ by less
        # than the span never share one).
        endpoint = (f'rdzv_host=$({shlex.quote(scontrol)} show hostnames "${{SLURM_JOB_NODELIST}}" '
                    f"| head -n 1) && [ -n \"${{rdzv_host}}\" ] || exit 1; "
                    f"rdzv_endpoint=${{rdzv_host}}:$(({RDZV_PORT_BASE} + SLURM_JOB_ID % "
                    f"{RDZV_PORT_SPAN}))")
    return (f'{endpoint}; echo "# node $(hostname): torchrun, rendezvous ${{rdzv_endpoint}}"; '
            f"exec {' '.join(rendered)}")
