"""Versions of what decides a task's numbers, one value per tool.

The pipeline records them per process in ``pipeline_info/software_versions.yml``
(Nextflow's ``versions`` topic). Embedding results depend on torch,
transformers, the CUDA build and the GPU itself, not only on this package.
"""

from __future__ import annotations

import platform
from enum import Enum
from importlib import metadata

from virnucpro import __version__


class Tool(str, Enum):
    """What a version can be asked for."""

    virnucpro = "virnucpro"
    python = "python"
    torch = "torch"
    transformers = "transformers"
    biopython = "biopython"
    scikit_learn = "scikit-learn"
    pyrodigal = "pyrodigal"
    pyrodigal_gv = "pyrodigal-gv"
    multiqc = "multiqc"
    cuda = "cuda"
    gpu = "gpu"


NO_GPU = "none"


def software_version(tool: Tool) -> str:
    """The version of ``tool`` in this environment.

    ``cuda`` is the CUDA version torch was built with ("none" for a CPU build);
    ``gpu`` names the GPUs this process sees (the task's own under Nextflow's
    accelerator scheduling), "none" without one.
    """
    if tool is Tool.virnucpro:
        return __version__
    if tool is Tool.python:
        return platform.python_version()
    if tool is Tool.cuda:
        import torch

        return torch.version.cuda or NO_GPU
    if tool is Tool.gpu:
        import torch

        if not torch.cuda.is_available():
            return NO_GPU
        names = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
        return ", ".join(sorted(set(names)))
    return metadata.version(tool.value)
