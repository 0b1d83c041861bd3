"""All-or-nothing output files: a step's outputs appear together, all new or all old.

A step that fails half-way (bad record, full disk, interrupted, killed) must not
leave a truncated file, or a mix of new and old files, that a resumed run or a
later step would take as finished. :class:`AtomicOutputs` therefore writes every
output under a temporary name in the output's own folder and renames them all
into place only when the step succeeds:

* Temporary names are unique (``.{name}.{host}.{pid}.{random}.partial``, made by
  :func:`tempfile.mkstemp`), so two runs writing the same output never write into
  each other's file: the last to finish wins. They sit in the final file's folder
  because a rename is atomic only within one file system.
* Before the renames every temporary is flushed and ``fsync``-ed, so that a
  renamed file never has less content on disk than its name promises; the folder
  is ``fsync``-ed after them, so that the new names survive a crash.
* On any failure (an exception in the ``with`` block, a failing flush, fsync,
  close or rename, Ctrl-C) every temporary is deleted, with the folders this
  object created if they are left empty, and the original error is raised. A full
  disk or an unwritable folder becomes one :class:`InputError` line naming the
  file.
* The renames run with SIGINT, SIGTERM, SIGHUP and SIGQUIT blocked (and, for
  signals arriving at other threads, caught by a handler that only records them);
  such a signal is delivered once the last rename is done. A multi-file output
  killed by one of them is therefore all new, or (before the commit) all old.
* A temporary left by a killed process is removed the next time the same output
  is reserved on the same host, once its process is gone (``os.kill(pid, 0)``).
  Temporaries of live processes, or of other hosts sharing the folder, are kept.

Limitations: SIGKILL (the out-of-memory killer, ``kill -9``, a scheduler's hard
limit) cannot be blocked. One that lands inside the rename loop, which lasts
microseconds, leaves the outputs renamed so far new and the rest old. A rename
that fails half-way through a set (an I/O error) leaves the same mix; a final
name that is a folder, the usual cause, is refused before anything is written.
Stale temporaries are recognised by host name and pid: processes sharing a host
name must share a pid namespace (true of plain processes, Singularity/Apptainer
and Docker containers, which get their own host name).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TextIO

from virnucpro.errors import InputError, examples

log = logging.getLogger(__name__)

_SUFFIX = ".partial"
# Signals that ask a process to stop: held back while the outputs are renamed.
_COMMIT_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
    if hasattr(signal, name)
)
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# A reserve() retries this many times when a concurrent failing step removes the
# (empty) folder it has just created, between its mkdir and its mkstemp.
_CREATE_ATTEMPTS = 3


def _file_mode() -> int:
    """Mode for new files under the current umask (temporary files are created 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _host() -> str:
    """This host's name, without dots, so that a temporary name can be split on dots."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "localhost"


def _temporary_pattern(name: str) -> re.Pattern[str]:
    """Matches the temporaries of final file ``name``, capturing host and pid."""
    return re.compile(rf"\.{re.escape(name)}\.([A-Za-z0-9_-]+)\.(\d+)\.[^.]+{re.escape(_SUFFIX)}")


def _process_is_gone(pid: int) -> bool:
    """Whether no process ``pid`` exists on this host (one of another user counts as live)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _reason(final: Path, error: OSError) -> str:
    """Why ``final`` cannot be written, in a few words: the path component that is a
    file rather than a folder, or the system's message (Permission denied, ...)."""
    if isinstance(error, (NotADirectoryError, FileExistsError)):
        for ancestor in reversed(final.parents):
            if ancestor.exists() and not ancestor.is_dir():
                return f"{ancestor} is a file, not a folder"
    return error.strerror or str(error)


def _fsync_path(path: Path, flags: int = os.O_RDONLY) -> None:
    """Flush a file (or folder) that is not open here to disk."""
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold back the stop signals for the duration of the block, then deliver them.

    Blocking them in this thread keeps a signal sent to the process from
    interrupting the block, as long as no other thread can take it. Another
    thread (tqdm's monitor, torch's workers) does take a process-directed signal
    that this thread blocks, and with the default action that kills the process
    mid-block; so for the block each signal gets a handler that only records it,
    and recorded signals are raised again, with the previous handler back, after
    the block. Signal handling can only be changed from the main thread: in other
    threads the block just runs.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    previous_handlers: dict[int, object] = {}
    caught: list[int] = []

    def record(signum: int, frame: object) -> None:
        caught.append(signum)

    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, _COMMIT_SIGNALS)
        for signum in _COMMIT_SIGNALS:
            handler = signal.getsignal(signum)
            # None: a handler installed outside Python, which could not be put back.
            if handler is None or handler == signal.SIG_IGN:
                continue
            signal.signal(signum, record)
            previous_handlers[signum] = handler
        yield
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        for signum in caught:
            signal.raise_signal(signum)


@dataclass
class _Output:
    final: Path
    temporary: Path
    handle: IO | None = None


class AtomicOutputs:
    """Opens outputs under temporary names and renames them into place only on success.

    Use as a context manager; every output of one step goes through one instance,
    so that the step's outputs appear together (see the module docstring for what
    is guaranteed, and what a SIGKILL can still break).
    """

    def __init__(self) -> None:
        self._outputs: list[_Output] = []
        self._resolved: set[Path] = set()
        self._created_folders: list[Path] = []
        # folder -> names there that may be stale temporaries: a folder is listed once,
        # not once per output (a step may write thousands of shards into one folder).
        self._leftovers: dict[Path, set[str]] = {}
        self._removals: list[Path] = []

    def open(self, path: str | os.PathLike[str]) -> TextIO:
        """A text handle (UTF-8, ``\\n`` newlines) that writes to ``path`` once the
        ``with`` block succeeds."""
        output, descriptor = self._create(path)
        output.handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="\n")
        return output.handle  # type: ignore[return-value]

    def reserve(self, path: str | os.PathLike[str]) -> Path:
        """A temporary file name for writers that take a path; renamed to ``path`` on success.

        The file exists (empty) already; the writer may overwrite or replace it.
        """
        output, descriptor = self._create(path)
        os.close(descriptor)
        return output.temporary

    def write_bytes(self, path: str | os.PathLike[str], data: bytes) -> None:
        """Write ``data`` to ``path`` once the ``with`` block succeeds."""
        output, descriptor = self._create(path)
        output.handle = os.fdopen(descriptor, "wb")
        output.handle.write(data)

    def remove(self, path: str | os.PathLike[str]) -> None:
        """Delete ``path``, if it exists, together with the renames: an output of an earlier
        run that this run does not make must not be left beside the new ones."""
        final = Path(path)
        if final.is_dir():
            raise InputError(f"cannot remove {final}: it is a folder, not a file")
        self._removals.append(final)

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._discard()
            if isinstance(exc, OSError) and exc.errno in _DISK_FULL and self._outputs:
                reason = _reason(self._outputs[0].final, exc)
                raise InputError(f"cannot write {self._names(exc)}: {reason}") from exc
            return
        try:
            self._finish()
            with _signals_deferred():
                for output in self._outputs:
                    try:
                        os.replace(output.temporary, output.final)
                    except OSError as error:
                        raise self._error(output, error) from error
                for final in self._removals:
                    if final.exists():
                        log.info("removed %s: this run does not make it", final)
                    try:
                        final.unlink(missing_ok=True)
                    except OSError as error:
                        raise InputError(
                            f"cannot remove {final}: {_reason(final, error)}"
                        ) from error
        except BaseException:
            # Renamed temporaries are gone already; the rest must not be left behind.
            self._discard()
            raise
        self._sync_folders()

    def _create(self, path: str | os.PathLike[str]) -> tuple[_Output, int]:
        """Check ``path`` and make its temporary: (output, open descriptor)."""
        final = Path(path)
        try:
            resolved = final.resolve()
        except (OSError, RuntimeError):  # a symbolic link loop
            resolved = Path(os.path.abspath(final))
        if resolved in self._resolved:
            raise InputError(f"{final} is given for two outputs: each output needs its own file")
        if final.is_dir():
            raise InputError(f"cannot write {final}: it is a folder, not a file")
        try:
            descriptor, name = self._make_temporary(final)
        except OSError as error:
            raise InputError(f"cannot write {final}: {_reason(final, error)}") from error
        output = _Output(final, Path(name))
        self._outputs.append(output)
        self._resolved.add(resolved)
        return output, descriptor

    def _make_temporary(self, final: Path) -> tuple[int, str]:
        """Create the folder of ``final`` and a new temporary in it: (descriptor, name)."""
        for _ in range(_CREATE_ATTEMPTS - 1):
            self._make_folders(final.parent)
            self._remove_stale(final)
            # The folder may vanish between the two calls (see _CREATE_ATTEMPTS).
            with contextlib.suppress(FileNotFoundError):
                return self._mkstemp(final)
        self._make_folders(final.parent)
        return self._mkstemp(final)

    @staticmethod
    def _mkstemp(final: Path) -> tuple[int, str]:
        return tempfile.mkstemp(
            prefix=f".{final.name}.{_host()}.{os.getpid()}.", suffix=_SUFFIX, dir=final.parent
        )

    def _make_folders(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents, remembering which were new here."""
        missing = []
        while not folder.is_dir() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for new in reversed(missing):
            try:
                os.mkdir(new)
            except FileExistsError:
                if not new.is_dir():
                    raise
                continue  # made by a concurrent step: not ours to remove
            self._created_folders.append(new)

    def _remove_stale(self, final: Path) -> None:
        """Delete temporaries of ``final`` left by dead processes of this host.

        Only this output's temporaries are looked at: another output's belong to
        the step that writes it.
        """
        folder = final.parent
        if folder not in self._leftovers:
            names: set[str] = set()
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                names.update(entry.name for entry in entries if entry.name.endswith(_SUFFIX))
            self._leftovers[folder] = names
        pattern = _temporary_pattern(final.name)
        host = _host()
        for name in sorted(self._leftovers[folder]):
            match = pattern.fullmatch(name)
            if match is None or match[1] != host or not _process_is_gone(int(match[2])):
                continue
            self._leftovers[folder].discard(name)
            try:
                (folder / name).unlink(missing_ok=True)
            except OSError as error:
                log.warning("could not remove stale temporary %s: %s", folder / name, error)
            else:
                log.info("removed %s, left by process %s that is gone", folder / name, match[2])

    def _finish(self) -> None:
        """Flush, fsync and close every temporary and give it a new file's mode."""
        mode = _file_mode()
        for output in self._outputs:
            try:
                if output.handle is not None and not output.handle.closed:
                    output.handle.flush()
                    os.fsync(output.handle.fileno())
                    output.handle.close()
                else:
                    _fsync_path(output.temporary)
                os.chmod(output.temporary, mode)
            except OSError as error:
                raise self._error(output, error) from error

    def _discard(self) -> None:
        """Close and delete every temporary not renamed yet, and the folders made for
        them if they are empty; errors here must not hide the one being handled."""
        for output in self._outputs:
            if output.handle is not None:
                with contextlib.suppress(Exception):
                    output.handle.close()
            with contextlib.suppress(OSError):
                output.temporary.unlink(missing_ok=True)
        for folder in reversed(self._created_folders):
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _sync_folders(self) -> None:
        """Make the new names durable. Some file systems cannot fsync a folder: the
        files are in place either way, so a failure here is not an error."""
        if not hasattr(os, "O_DIRECTORY"):
            return
        for folder in dict.fromkeys(output.final.parent for output in self._outputs):
            try:
                _fsync_path(folder, os.O_RDONLY | os.O_DIRECTORY)
            except OSError as error:
                log.debug("could not fsync folder %s: %s", folder, error)

    def _error(self, output: _Output, error: OSError) -> InputError:
        return InputError(f"cannot write {output.final}: {_reason(output.final, error)}")

    def _names(self, error: OSError) -> str:
        """The outputs an error in the ``with`` block concerns, for its message."""
        for output in self._outputs:
            if error.filename is not None and Path(error.filename) == output.temporary:
                return str(output.final)
        return examples([str(output.final) for output in self._outputs])
