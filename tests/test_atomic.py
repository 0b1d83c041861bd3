"""AtomicOutputs: a step's outputs appear all new or all old, whatever happens."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from conftest import run_script, write_fasta

import virnucpro.files.atomic
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs

CHUNKS = [("c1", "ATGAAACCCGGGTTTTAA" * 5)]


def _files(folder: Path) -> list[str]:
    """Every path under ``folder``, relative, sorted (temporaries start with a dot)."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_outputs_appear_on_success_with_the_mode_of_a_new_file(tmp_path: Path) -> None:
    with AtomicOutputs() as outputs:
        outputs.open(tmp_path / "new" / "a.txt").write("é\n")
        outputs.reserve(tmp_path / "new" / "b.bin").write_bytes(b"\x00b")
        outputs.write_bytes(tmp_path / "new" / "c.bin", b"\x01c")
        assert _files(tmp_path / "new")[0].startswith(".")  # nothing final yet
        assert not (tmp_path / "new" / "a.txt").exists()

    assert _files(tmp_path) == ["new", "new/a.txt", "new/b.bin", "new/c.bin"]
    assert (tmp_path / "new" / "a.txt").read_bytes() == "é\n".encode()
    assert (tmp_path / "new" / "b.bin").read_bytes() == b"\x00b"
    assert (tmp_path / "new" / "c.bin").read_bytes() == b"\x01c"
    for name in ("a.txt", "b.bin", "c.bin"):
        assert (tmp_path / "new" / name).stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_temporary_name_is_unique_and_names_host_and_pid(tmp_path: Path) -> None:
    with AtomicOutputs() as first, AtomicOutputs() as second:
        one = first.reserve(tmp_path / "x.tsv")
        two = second.reserve(tmp_path / "x.tsv")
        assert one != two
        assert one.parent == two.parent == tmp_path
        host = virnucpro.files.atomic._host()
        for temporary in (one, two):
            assert temporary.name.startswith(f".x.tsv.{host}.{os.getpid()}.")
            assert temporary.name.endswith(".partial")


def test_two_runs_on_the_same_output_at_once_both_succeed_and_the_last_wins(
    tmp_path: Path,
) -> None:
    final = tmp_path / "x.tsv"
    first = AtomicOutputs()
    second = AtomicOutputs()
    with first:
        first.open(final).write("first\n")
        with second:
            second.open(final).write("second, started later\n")
            first.open(tmp_path / "y.tsv").write("first y\n")
        assert final.read_text() == "second, started later\n"
    # ``first`` committed last: its file replaced the other run's.
    assert final.read_text() == "first\n"
    assert _files(tmp_path) == ["x.tsv", "y.tsv"]


def test_exception_in_block_removes_temporaries_and_new_folders(tmp_path: Path) -> None:
    (tmp_path / "old.tsv").write_text("old\n")
    with pytest.raises(ValueError, match="bad record"), AtomicOutputs() as outputs:
        outputs.open(tmp_path / "old.tsv").write("new\n")
        outputs.open(tmp_path / "new" / "deeper" / "x.tsv").write("new\n")
        raise ValueError("bad record")
    assert _files(tmp_path) == ["old.tsv"]
    assert (tmp_path / "old.tsv").read_text() == "old\n"


def _fail_fsync(descriptor: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("failure", ["fsync", "flush", "fsync of a reserved path"])
def test_failing_close_leaves_no_temporary_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    final = tmp_path / "x.tsv"
    final.write_text("old\n")
    with pytest.raises(InputError) as raised, AtomicOutputs() as outputs:
        if failure == "fsync of a reserved path":
            outputs.reserve(final).write_text("new\n")
            monkeypatch.setattr(os, "fsync", _fail_fsync)
        else:
            handle = outputs.open(final)
            handle.write("new\n")
            if failure == "fsync":
                monkeypatch.setattr(os, "fsync", _fail_fsync)
            else:
                monkeypatch.setattr(handle, "flush", lambda: _fail_fsync(0))
        outputs.open(tmp_path / "other.tsv").write("new other\n")
    assert str(raised.value) == f"cannot write {final}: No space left on device"
    assert isinstance(raised.value.__cause__, OSError)
    assert raised.value.__cause__.errno == errno.ENOSPC
    assert _files(tmp_path) == ["x.tsv"]
    assert final.read_text() == "old\n"


def test_each_temporary_is_fsynced_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    synced: list[str] = []

    def fsync(descriptor: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{descriptor}"))
        synced.append("folder" if path.is_dir() else path.name.split(".")[1])
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    with AtomicOutputs() as outputs:
        outputs.open(tmp_path / "a.txt").write("a")
        outputs.reserve(tmp_path / "b.txt").write_text("b")
        outputs.write_bytes(tmp_path / "c.txt", b"c")
        with outputs.open(tmp_path / "d.txt") as closed_early:
            closed_early.write("d")
    assert synced == ["a", "b", "c", "d", "folder"]


def test_failing_rename_removes_the_temporaries_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def replace(source: str, target: str) -> None:
        if Path(target).name == "b.tsv":
            raise OSError(errno.EIO, os.strerror(errno.EIO), source)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    expected = r"^cannot write .*b\.tsv: Input/output error$"
    with pytest.raises(InputError, match=expected), AtomicOutputs() as outputs:
        for name in "abc":
            outputs.open(tmp_path / f"{name}.tsv").write(name)
    # a.tsv was renamed before the failure (the documented limitation); no temporary is left.
    assert _files(tmp_path) == ["a.tsv"]


def test_disk_full_while_writing_is_one_input_error_after_cleanup(tmp_path: Path) -> None:
    final = tmp_path / "x.tsv"
    with pytest.raises(InputError) as raised, AtomicOutputs() as outputs:
        outputs.open(final).write("some\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(raised.value) == f"cannot write {final}: No space left on device"
    assert _files(tmp_path) == []


_COMMIT_SCRIPT = """
import os, signal, sys, threading, time
from pathlib import Path
from virnucpro.files.atomic import AtomicOutputs

folder = Path(sys.argv[1])
signum = getattr(signal, sys.argv[2])
if sys.argv[3] == "thread":
    # Another thread takes a process-directed signal that the main thread blocks.
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
real_replace = os.replace
renamed = []

def replace(source, target):
    real_replace(source, target)
    renamed.append(target)
    if len(renamed) == 1:
        os.kill(os.getpid(), signum)

os.replace = replace
with AtomicOutputs() as outputs:
    for name in ("a.tsv", "b.tsv", "c.tsv"):
        outputs.open(folder / name).write("new\\n")
    if sys.argv[4] == "fail":
        raise RuntimeError("failed before the commit")
print("not reached", renamed)
"""


def _run_commit(folder: Path, signame: str, thread: str, outcome: str):
    for name in ("a.tsv", "b.tsv", "c.tsv"):
        (folder / name).write_text("old\n")
    return subprocess.run(
        [sys.executable, "-c", _COMMIT_SCRIPT, folder, signame, thread, outcome],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("signame", "thread"),
    [("SIGTERM", "alone"), ("SIGTERM", "thread"), ("SIGINT", "thread"), ("SIGHUP", "alone")],
)
def test_signal_during_commit_is_delivered_after_the_last_rename(
    tmp_path: Path, signame: str, thread: str
) -> None:
    result = _run_commit(tmp_path, signame, thread, "succeed")
    assert result.returncode == -getattr(signal, signame), result.stderr
    assert "not reached" not in result.stdout
    assert {name: (tmp_path / name).read_text() for name in _files(tmp_path)} == {
        "a.tsv": "new\n",
        "b.tsv": "new\n",
        "c.tsv": "new\n",
    }


def test_exception_before_commit_leaves_all_old(tmp_path: Path) -> None:
    result = _run_commit(tmp_path, "SIGTERM", "alone", "fail")
    assert result.returncode == 1
    assert "RuntimeError: failed before the commit" in result.stderr
    assert {name: (tmp_path / name).read_text() for name in _files(tmp_path)} == {
        "a.tsv": "old\n",
        "b.tsv": "old\n",
        "c.tsv": "old\n",
    }


def test_stop_signals_are_blocked_during_every_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    blocked: list[set[int]] = []

    def replace(source: str, target: str) -> None:
        blocked.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, ())))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with AtomicOutputs() as outputs:
        outputs.open(tmp_path / "a.tsv").write("a")
        outputs.open(tmp_path / "b.tsv").write("b")
    stop = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
    assert len(blocked) == 2
    assert all(stop <= mask for mask in blocked)
    assert not stop & set(signal.pthread_sigmask(signal.SIG_BLOCK, ()))


def test_signal_handlers_and_mask_are_restored_after_commit(tmp_path: Path) -> None:
    handlers = {
        signum: signal.getsignal(signum) for signum in virnucpro.files.atomic._COMMIT_SIGNALS
    }
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    with AtomicOutputs() as outputs:
        outputs.open(tmp_path / "x.tsv").write("x")
    assert {signum: signal.getsignal(signum) for signum in handlers} == handlers
    assert signal.pthread_sigmask(signal.SIG_BLOCK, ()) == mask


def test_commit_outside_the_main_thread_just_renames(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with AtomicOutputs() as outputs:
                outputs.open(tmp_path / "x.tsv").write("from a thread\n")
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert errors == []
    assert (tmp_path / "x.tsv").read_text() == "from a thread\n"


_KILLED_SCRIPT = """
import os, signal, sys
from virnucpro.files.atomic import AtomicOutputs

with AtomicOutputs() as outputs:
    outputs.open(sys.argv[1]).write("half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_stale_temporaries_of_dead_processes_on_this_host_are_removed(tmp_path: Path) -> None:
    final = tmp_path / "x.tsv"
    killed = subprocess.Popen([sys.executable, "-c", _KILLED_SCRIPT, final])
    assert killed.wait(timeout=60) == -signal.SIGKILL
    (dead,) = tmp_path.iterdir()  # what a SIGKILL leaves
    prefix, host, pid, random, suffix = dead.name.rsplit(".", 4)
    assert (prefix, host, pid, suffix) == (
        ".x.tsv",
        virnucpro.files.atomic._host(),
        str(killed.pid),
        "partial",
    )
    live = tmp_path / f"{prefix}.{host}.{os.getpid()}.{random}.{suffix}"
    other_host = tmp_path / f"{prefix}.otherhost.{pid}.{random}.{suffix}"
    other_output = tmp_path / f".y.tsv.{host}.{pid}.{random}.{suffix}"
    for kept in (live, other_host, other_output):
        kept.write_text("kept")

    with AtomicOutputs() as outputs:
        outputs.open(final).write("complete\n")

    assert final.read_text() == "complete\n"
    assert not dead.exists()
    assert _files(tmp_path) == sorted(path.name for path in (final, live, other_host, other_output))


@pytest.mark.parametrize("second", ["new/x.fa", "new/../new/x.fa", "new/./x.fa"])
def test_same_path_for_two_outputs_is_refused_before_anything_is_created(
    tmp_path: Path, second: str
) -> None:
    with pytest.raises(InputError) as raised, AtomicOutputs() as outputs:
        outputs.open(tmp_path / "new" / "x.fa").write(">a\nACGT\n")
        outputs.open(tmp_path / second)
    assert str(raised.value) == (
        f"{tmp_path / second} is given for two outputs: each output needs its own file"
    )
    assert _files(tmp_path) == []


@pytest.mark.parametrize("under", ["out/x.tsv", "out/sub/x.tsv"])
def test_output_under_a_regular_file_is_one_input_error(tmp_path: Path, under: str) -> None:
    (tmp_path / "out").write_text("a file\n")
    final = tmp_path / under
    with pytest.raises(InputError) as raised, AtomicOutputs() as outputs:
        outputs.open(tmp_path / "first.tsv").write("first\n")
        outputs.open(final)
    assert str(raised.value) == f"cannot write {final}: {tmp_path / 'out'} is a file, not a folder"
    assert _files(tmp_path) == ["out"]


def test_output_that_is_a_folder_is_one_input_error(tmp_path: Path) -> None:
    (tmp_path / "x.tsv").mkdir()
    expected = r"^cannot write .*x\.tsv: it is a folder, not a file$"
    with pytest.raises(InputError, match=expected), AtomicOutputs() as outputs:
        outputs.open(tmp_path / "x.tsv")
    assert _files(tmp_path) == ["x.tsv"]


@pytest.mark.parametrize(
    ("where", "code", "reason"),
    [
        ("mkstemp", errno.EACCES, "Permission denied"),
        ("mkstemp", errno.EROFS, "Read-only file system"),
        ("mkstemp", errno.ENOSPC, "No space left on device"),
        ("mkdir", errno.EACCES, "Permission denied"),
    ],
)
def test_unwritable_folder_is_one_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, code: int, reason: str
) -> None:
    # Simulated: tests may run as root, whom a read-only mode does not stop.
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code), str(args[0]) if args else None)

    monkeypatch.setattr(tempfile if where == "mkstemp" else os, where, refuse)
    final = tmp_path / "new" / "x.tsv"
    with pytest.raises(InputError) as raised, AtomicOutputs() as outputs:
        outputs.open(final)
    assert str(raised.value) == f"cannot write {final}: {reason}"
    monkeypatch.undo()
    assert _files(tmp_path) == []


def _assert_one_error_line(result) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")


def test_command_refuses_the_same_path_for_two_outputs(tmp_path: Path) -> None:
    chunks = write_fasta(tmp_path / "chunks.fa", CHUNKS)
    frames = tmp_path / "out" / "x.fa"
    result = run_script(
        "select_frames.py",
        *("--input", chunks, "--nucleotide", frames, "--protein", frames),
        *("--report", tmp_path / "out" / "report.tsv"),
    )
    _assert_one_error_line(result)
    assert "given for two outputs" in result.stderr
    assert _files(tmp_path) == ["chunks.fa"]


def test_command_refuses_an_output_under_a_regular_file(tmp_path: Path) -> None:
    chunks = write_fasta(tmp_path / "chunks.fa", CHUNKS)
    (tmp_path / "out").write_text("a file\n")
    result = run_script(
        "select_frames.py",
        *("--input", chunks, "--nucleotide", tmp_path / "n.fa", "--protein", tmp_path / "p.fa"),
        *("--report", tmp_path / "out" / "report.tsv"),
    )
    _assert_one_error_line(result)
    assert result.stderr.strip().endswith("out is a file, not a folder")
    assert _files(tmp_path) == ["chunks.fa", "out"]
