#!/bin/sh
# Install PyTorch into a virtual environment, choosing the build for this machine
# (called by the Makefile's venv rule; the version is the Makefile's TORCH_SPEC).
#
#   - torch already imports: install nothing, so a GPU server's own build is kept;
#   - Linux x86-64 without an NVIDIA GPU: the CPU build, from PyTorch's CPU index
#     (PyPI's Linux x86-64 wheel brings several GB of CUDA libraries that a CPU
#     never uses); from the default index if the CPU index fails (unreachable);
#   - anything else (an NVIDIA GPU, macOS, aarch64): the default index's wheel,
#     which is the right build there.
#
# Usage: scripts/install_torch.sh PYTHON SPEC    e.g. .venv/bin/python torch==2.13.0
# A GPU is an `nvidia-smi -L` that succeeds, or a loaded NVIDIA driver
# ($NVIDIA_DRIVER_DIR, default /proc/driver/nvidia).
set -eu

CPU_INDEX=https://download.pytorch.org/whl/cpu

if [ $# -ne 2 ]; then
    echo "usage: $0 PYTHON SPEC" >&2
    exit 2
fi
python=$1
spec=$2

if "$python" -c 'import torch' 2>/dev/null; then
    exit 0
fi

has_nvidia_gpu() {
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        return 0
    fi
    [ -d "${NVIDIA_DRIVER_DIR:-/proc/driver/nvidia}" ]
}

if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] && ! has_nvidia_gpu; then
    # No retries: an index that cannot be reached is given up at once, not after
    # pip's five backed-off retries for every file
    if "$python" -m pip install --quiet --retries 0 --timeout 30 "$spec" --index-url "$CPU_INDEX"; then
        exit 0
    fi
    echo "install_torch.sh: $spec did not install from PyTorch's CPU index ($CPU_INDEX);" \
        "installing it from the default index instead, with the CUDA libraries" >&2
fi
exec "$python" -m pip install --quiet "$spec"
