"""How many CPU threads a step uses: ``--threads``, as Nextflow passes ``task.cpus``.

Without a limit, PyTorch, OpenMP and the BLAS libraries each start one thread
per core of the machine, so several tasks on one node oversubscribe it. This
module imports neither torch nor numpy: a step that never loads them does not
pay for them.
"""

from __future__ import annotations

import os
import sys

#: Read by OpenMP (PyTorch's intra-op pool included), MKL, OpenBLAS and Rayon (the Rust
#: pool of Hugging Face tokenizers) when each first starts its threads
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "RAYON_NUM_THREADS",
)


def limit_cpu_threads(threads: int | None) -> None:
    """Limit this process to ``threads`` CPU threads; ``None`` leaves the libraries' defaults.

    The environment variables cover the libraries not loaded yet (and child
    processes); threadpoolctl and ``torch.set_num_threads`` the pools already
    started.
    """
    if threads is None:
        return
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
