"""Resumable HTTP downloads with ``urllib.request``, and the gzip check of what arrived.

A file is written to ``<name>.part`` beside its final name and renamed only once it
is whole and checked, so a file under its final name is always complete:

* An interrupted transfer (connection dropped or timed out, a 5xx answer) is tried
  again, up to ``retries`` more times, each time asking for the missing bytes only
  (``Range: bytes=<size of the .part>-``). A rerun of the command resumes the same
  way from the ``.part`` a failed run kept.
* A server that answers a Range request with 200 sends the whole file: the
  ``.part`` starts again from zero. One that answers 416 for a ``.part`` as long as
  its file takes the ``.part`` as complete.
* The size must equal the server's Content-Length (or the total of its
  Content-Range); fewer bytes is an interrupted transfer, more is refused.
* The whole file is decompressed once (every gzip member, its CRC-32 and length
  checked by zlib) while its SHA-256 is computed, so a truncated or corrupt file,
  or an HTML error page, is refused. A refused file is deleted: resuming it could
  only repeat the fault.

``remote_size`` asks the server for a file's size without its body (a HEAD request).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from virnucpro import __version__
from virnucpro.errors import InputError

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"
USER_AGENT = f"virnucpro/{__version__} (download-refseq)"
_BLOCK = 1 << 20
# Decompressed bytes per zlib call: bounds memory for a file that inflates a lot
_INFLATE_LIMIT = 1 << 22
# Answers that a later try may not get: timeouts, rate limits, server errors
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# Answers that the server does not have the URL
_NOT_FOUND = frozenset({404, 410})
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")
_MAX_WAIT = 60.0

T = TypeVar("T")


@dataclass(frozen=True)
class FetchSettings:
    """How hard to try: seconds a connection may stay silent, tries after the first,
    and the wait before the first retry (doubled for each next one, at most a minute)."""

    timeout: float = 60.0
    retries: int = 5
    backoff: float = 2.0


@dataclass(frozen=True)
class Downloaded:
    """A file now under its final name: its size and SHA-256."""

    bytes: int
    sha256: str


class _Interrupted(Exception):
    """A transfer that a later try may complete (the message says what happened)."""


class NotFound(InputError):
    """A URL the server does not have (HTTP 404 or 410)."""


class NotGzip(Exception):
    """A file that is not one whole gzip stream; the message says why."""


def part_path(target: Path) -> Path:
    """Where ``target`` is written until it is whole and checked."""
    return target.with_name(target.name + PART_SUFFIX)


def _request(url: str, offset: int = 0, method: str = "GET") -> Request:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return Request(url, headers=headers, method=method)


def _refusal(url: str, error: HTTPError) -> InputError:
    """The error of an answer no retry can mend; NotFound for a URL the server lacks."""
    kind = NotFound if error.code in _NOT_FOUND else InputError
    return kind(f"cannot download {url}: HTTP {error.code} {error.reason}")


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    """The server's answer; an HTTP error a retry cannot mend is an InputError."""
    try:
        return urlopen(_request(url, offset), timeout=timeout)
    except HTTPError as error:
        if error.code == 416 or error.code in _RETRY_STATUS:
            raise
        error.close()
        raise _refusal(url, error) from None
    except (OSError, http.client.HTTPException) as error:
        raise _Interrupted(_reason(error)) from None


def _reason(error: BaseException) -> str:
    """A few words on a network failure (urllib wraps the socket's error)."""
    reason = getattr(error, "reason", None)
    text = str(reason if reason is not None else error) or type(error).__name__
    return text if not isinstance(error, TimeoutError) else f"timed out ({text})"


def _retrying(
    url: str, settings: FetchSettings, attempt: Callable[[], T], hint: Callable[[], str]
) -> T:
    """``attempt()``, tried again on an interruption; the last one is an InputError
    ending with ``hint()``."""
    tries = settings.retries + 1
    for number in range(1, tries + 1):
        try:
            return attempt()
        except _Interrupted as error:
            if number == tries:
                raise InputError(
                    f"cannot download {url}: {error}; gave up after {tries} "
                    f"{'try' if tries == 1 else 'tries'}{hint()}"
                ) from None
            wait = min(settings.backoff * 2 ** (number - 1), _MAX_WAIT)
            log.warning(
                "%s: %s; trying again in %.0f s (%d of %d)", url, error, wait, number + 1, tries
            )
            time.sleep(wait)
    raise AssertionError("unreachable")


def fetch_page(url: str, settings: FetchSettings) -> bytes:
    """The body of ``url`` (a folder listing), tried again on interruptions."""

    def attempt() -> bytes:
        try:
            with _open(url, 0, settings.timeout) as response:
                return response.read()
        except HTTPError as error:  # 416 or a status worth retrying
            error.close()
            raise _Interrupted(f"HTTP {error.code} {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            raise _Interrupted(_reason(error)) from None

    return _retrying(url, settings, attempt, lambda: "")


def remote_size(url: str, settings: FetchSettings) -> int | None:
    """The size of ``url`` as the server gives it to a HEAD request (its Content-Length),
    tried again on interruptions; None where the server gives none or refuses HEAD.

    A URL the server does not have is a NotFound: downloading it would fail the same way.
    """

    def attempt() -> int | None:
        try:
            with urlopen(_request(url, method="HEAD"), timeout=settings.timeout) as response:
                length = response.headers.get("Content-Length")
        except HTTPError as error:
            error.close()
            if error.code in _RETRY_STATUS:
                raise _Interrupted(f"HTTP {error.code} {error.reason}") from None
            if error.code in _NOT_FOUND:
                raise _refusal(url, error) from None
            return None  # HEAD not allowed (405, 501) or refused: no size to compare
        except (OSError, http.client.HTTPException) as error:
            raise _Interrupted(_reason(error)) from None
        return int(length) if length and length.isdigit() else None

    return _retrying(url, settings, attempt, lambda: "")


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header; None where not given."""
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    if match is None:
        return None, None
    first = int(match[1]) if match[1] is not None else None
    total = int(match[3]) if match[3] != "*" else None
    return first, total


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _transfer(url: str, part: Path, timeout: float) -> int | None:
    """One try at completing ``part``: the file's total size, if the server said it."""
    offset = _size(part)
    try:
        response = _open(url, offset, timeout)
    except HTTPError as error:
        error.close()
        if error.code != 416 or not offset:
            raise _Interrupted(f"HTTP {error.code} {error.reason}") from None
        _, total = _content_range(error.headers.get("Content-Range"))
        if total == offset:
            return total  # the .part is whole already
        part.unlink()
        raise _Interrupted(
            f"HTTP 416: the {offset:,} bytes kept do not fit the server's file; starting again"
        ) from None
    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if response.status == 206:
            first, total = _content_range(response.headers.get("Content-Range"))
            if first != offset:
                part.unlink()
                raise _Interrupted(
                    f"the server sent bytes from {first}, not {offset}; starting again"
                )
            if total is None and length is not None:
                total = offset + length
            mode = "ab"
        else:
            if offset:
                log.info(
                    "%s: the server ignored the Range request: downloading it from the start", url
                )
            total, mode = length, "wb"
        _copy(response, part, mode, url)
    size = _size(part)
    if total is not None and size < total:
        raise _Interrupted(f"connection closed after {size:,} of {total:,} bytes")
    return total


def _copy(response: http.client.HTTPResponse, part: Path, mode: str, url: str) -> None:
    """Append the body to ``part`` as it arrives; what arrived stays if the network fails."""
    try:
        handle = open(part, mode)  # noqa: SIM115 (closed in finally, after fsync)
    except OSError as error:
        raise InputError(f"cannot write {part}: {error.strerror or error}") from None
    try:
        while True:
            try:
                block = response.read(_BLOCK)
            except (OSError, http.client.HTTPException) as error:
                raise _Interrupted(_reason(error)) from None
            if not block:
                break
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    except OSError as error:  # the disk, not the network
        raise InputError(f"cannot write {part}: {error.strerror or error}") from None
    finally:
        handle.close()


def verify_gzip(path: Path) -> str:
    """SHA-256 of ``path``, decompressing every gzip member of it on the way.

    Raises NotGzip for an empty file, bytes that are not gzip, a bad CRC-32 or
    length, or a stream cut short. Zero bytes after the last member (padding)
    are allowed, as gzip allows them.
    """
    digest = hashlib.sha256()
    inflater = zlib.decompressobj(wbits=31)
    started = between = False  # between: after a member's end, before the next one's start
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
            pending = block
            while pending:
                if between:
                    pending = pending.lstrip(b"\x00")
                    if not pending:
                        break
                    inflater, between = zlib.decompressobj(wbits=31), False
                started = True
                try:
                    inflater.decompress(pending, _INFLATE_LIMIT)
                except zlib.error as error:
                    raise NotGzip(f"corrupt gzip data: {error}") from None
                pending = inflater.unconsumed_tail
                if inflater.eof:
                    pending, between = inflater.unused_data, True
    if not started:
        raise NotGzip("the file is empty")
    if not between:
        raise NotGzip("it ends inside its gzip stream: cut short")
    return digest.hexdigest()


def download(url: str, target: Path, settings: FetchSettings) -> Downloaded:
    """Download ``url`` to ``target`` through ``target.part`` (resumed if there), checked.

    A refused file (size other than announced, not whole gzip) is deleted and
    raised as one InputError naming the file and the URL.
    """
    part = part_path(target)
    kept_before = _size(part)
    if kept_before:
        log.info("%s: resuming after the %s bytes of %s", target.name, f"{kept_before:,}", part)

    def kept() -> str:
        size = _size(part)
        return f"; {size:,} bytes kept in {part}: run again to resume" if size else ""

    total = _retrying(url, settings, lambda: _transfer(url, part, settings.timeout), kept)
    size = _size(part)
    if total is not None and size != total:
        part.unlink()
        raise InputError(
            f"{target.name} from {url} has {size:,} bytes, the server announced {total:,}: "
            "deleted, not used"
        )
    try:
        sha256 = verify_gzip(part)
    except NotGzip as error:
        part.unlink()
        raise InputError(
            f"{target.name} from {url} is not a whole gzip file ({error}): deleted, not used; "
            "run again to download it anew"
        ) from None
    os.replace(part, target)
    _sync_folder(target.parent)
    return Downloaded(size, sha256)


def _sync_folder(folder: Path) -> None:
    """Make the new name durable; some file systems cannot fsync a folder (no error)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
