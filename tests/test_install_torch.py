"""scripts/install_torch.sh: which PyTorch build `make setup` installs, without network.

The script runs against a stub Python (it records each call and fails where the
test says), with stub ``uname`` and ``nvidia-smi`` first on PATH and the NVIDIA
driver folder pointed at a temporary path, so that the host's own GPU or
architecture never decides the outcome.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

SCRIPT = ROOT / "scripts" / "install_torch.sh"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SPEC = "torch==2.13.0"
IMPORT_CHECK = "-c import torch"
CPU_INSTALL = f"-m pip install --quiet --retries 0 --timeout 30 {SPEC} --index-url {CPU_INDEX}"
DEFAULT_INSTALL = f"-m pip install --quiet {SPEC}"

# Records its arguments; `-c import torch` succeeds with TORCH_IMPORTS set, pip fails
# for the CPU index with CPU_INDEX_DOWN set and for the default one with DEFAULT_INDEX_DOWN.
STUB_PYTHON = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in
    "-c import torch") [ -n "${TORCH_IMPORTS:-}" ] ;;
    *download.pytorch.org*) [ -z "${CPU_INDEX_DOWN:-}" ] ;;
    *) [ -z "${DEFAULT_INDEX_DOWN:-}" ] ;;
esac
"""
STUB_UNAME = """#!/bin/sh
case "$1" in -s) echo "$FAKE_SYSTEM" ;; -m) echo "$FAKE_MACHINE" ;; esac
"""


def stub(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def install(
    tmp_path: Path,
    system: str = "Linux",
    machine: str = "x86_64",
    *,
    nvidia_smi: bool = False,
    driver: bool = False,
    **failures: str,
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run the script on the described machine; its result and the stub Python's calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub(bin_dir / "python", STUB_PYTHON)
    stub(bin_dir / "uname", STUB_UNAME)
    stub(bin_dir / "nvidia-smi", f"#!/bin/sh\nexit {0 if nvidia_smi else 9}\n")
    driver_dir = tmp_path / "nvidia-driver"
    if driver:
        driver_dir.mkdir()
    calls = tmp_path / "calls.txt"
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "CALLS": str(calls),
        "FAKE_SYSTEM": system,
        "FAKE_MACHINE": machine,
        "NVIDIA_DRIVER_DIR": str(driver_dir),
        **failures,
    }
    result = subprocess.run(
        [SCRIPT, bin_dir / "python", SPEC], capture_output=True, text=True, env=environment,
        check=False,
    )  # fmt: skip
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_a_venv_whose_torch_imports_gets_nothing_installed(tmp_path):
    result, calls = install(tmp_path, TORCH_IMPORTS="1")
    assert result.returncode == 0, result.stderr
    assert calls == [IMPORT_CHECK]


def test_gpu_less_linux_x86_64_gets_the_cpu_build(tmp_path):
    result, calls = install(tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == [IMPORT_CHECK, CPU_INSTALL]
    assert result.stderr == ""


def test_an_unreachable_cpu_index_falls_back_to_the_default_index(tmp_path):
    result, calls = install(tmp_path, CPU_INDEX_DOWN="1")
    assert result.returncode == 0, result.stderr
    assert calls == [IMPORT_CHECK, CPU_INSTALL, DEFAULT_INSTALL]
    assert f"did not install from PyTorch's CPU index ({CPU_INDEX})" in result.stderr
    assert "from the default index instead" in result.stderr


@pytest.mark.parametrize(
    ("system", "machine", "gpu"),
    [
        ("Linux", "x86_64", {"nvidia_smi": True}),
        ("Linux", "x86_64", {"driver": True}),
        ("Linux", "aarch64", {}),
        ("Darwin", "arm64", {}),
    ],
    ids=["nvidia-smi", "nvidia-driver", "linux-aarch64", "macos"],
)
def test_a_gpu_or_another_platform_gets_the_default_index_build(tmp_path, system, machine, gpu):
    result, calls = install(tmp_path, system, machine, **gpu)
    assert result.returncode == 0, result.stderr
    assert calls == [IMPORT_CHECK, DEFAULT_INSTALL]


def test_a_failed_install_fails_the_script(tmp_path):
    result, calls = install(tmp_path, CPU_INDEX_DOWN="1", DEFAULT_INDEX_DOWN="1")
    assert result.returncode != 0
    assert calls == [IMPORT_CHECK, CPU_INSTALL, DEFAULT_INSTALL]


def test_make_setup_installs_torch_through_the_script_with_the_makefile_spec():
    spec = re.search(r"(?m)^TORCH_SPEC \?= (\S+)$", (ROOT / "Makefile").read_text())
    assert spec and spec.group(1) == SPEC
    dry_run = subprocess.run(
        ["make", "-n", "-B", ".venv/.installed"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    torch_lines = [line for line in dry_run.stdout.splitlines() if "torch" in line]
    assert torch_lines == [f"scripts/install_torch.sh .venv/bin/python '{SPEC}'"]
