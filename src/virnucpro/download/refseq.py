"""Download the original VirNucPro's training files from a RefSeq release into one folder.

The host files are drawn as the original download_data.py drew them (see
``sampling``) from the release's folder listings as they are today; the viral
files are named. Every file goes through ``fetch`` (resumable, size and gzip
checked), the folder's ``manifest.tsv`` is rewritten after each one, and the
samplesheet is written last, with the final manifest, once every file is there.
A rerun fetches the listings again, finds the same files (same listings, same
seed), and downloads only what the manifest does not vouch for.

A file keeps its name from one release to the next (``viral.1.genomic.gbff.gz``),
so the manifest records the release each file came from, read from the release
folder's ``RELEASE_NUMBER``: a file (or a ``.part``) of another release is
downloaded again, so that one samplesheet never mixes releases. Where either
release is unknown (no ``RELEASE_NUMBER``), a kept file must also have the size
the server gives it now.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from virnucpro.download.fetch import (
    FetchSettings,
    NotFound,
    download,
    fetch_page,
    part_path,
    remote_size,
)
from virnucpro.download.listing import (
    GENOMIC_GBFF,
    RELEASE_URL,
    Link,
    genomic_gbff,
    parse_listing,
)
from virnucpro.download.manifest import (
    DOWNLOADED,
    MANIFEST,
    NOT_DRAWN,
    PRESENT,
    UNKNOWN_RELEASE,
    UNUSED,
    ManifestRow,
    read_manifest,
    write_manifest,
)
from virnucpro.download.samplesheet import SAMPLESHEET, Sample, sample_name, write_samplesheet
from virnucpro.download.sampling import (
    ORIGINAL_HOST_FILES,
    ORIGINAL_SEED,
    ORIGINAL_VIRAL_FILES,
    VIRAL_CATEGORY,
    choose,
)
from virnucpro.errors import InputError
from virnucpro.files.atomic import AtomicOutputs
from virnucpro.files.digests import file_digest
from virnucpro.files.names import check_name

log = logging.getLogger(__name__)

LISTINGS_FOLDER = "listings"
LOCK_FILE = ".download_refseq.lock"
#: The file of the release folder that holds its number (one line, e.g. 229)
RELEASE_NUMBER = "RELEASE_NUMBER"
#: Beside a ``.part``: the release it is part of (``<name>.part.release``)
PART_RELEASE_SUFFIX = ".release"
# How far a listing's rounded size (44M, 1.2G) may be from the file's: a size printed
# with two or more digits is at most 5% off; beyond 10%, the listed file is another
_LISTING_TOLERANCE = 0.10
VIRAL, HOST = "viral", "host"


@dataclass(frozen=True)
class Wanted:
    """A file this run must have: where from, its label, and its category's counts."""

    name: str
    url: str
    label: str
    category: str
    listed: str = NOT_DRAWN
    asked: str = NOT_DRAWN
    estimate: int | None = None


@dataclass(frozen=True)
class Plan:
    """What to download into which folder, and the samplesheet to write."""

    output_dir: Path
    release_url: str = RELEASE_URL
    samplesheet: Path | None = None
    seed: int = ORIGINAL_SEED
    host_files: tuple[tuple[str, int], ...] = ORIGINAL_HOST_FILES
    viral_files: tuple[str, ...] = ORIGINAL_VIRAL_FILES
    absolute_paths: bool = False
    dry_run: bool = False
    fetching: FetchSettings = field(default_factory=FetchSettings)


@dataclass
class Result:
    """The files of the run (in samplesheet order), with what was done to each."""

    wanted: list[Wanted]
    rows: list[ManifestRow] = field(default_factory=list)
    listed: dict[str, int] = field(default_factory=dict)
    release: str = UNKNOWN_RELEASE

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)


def release_url(url: str) -> str:
    """``url`` as a folder URL (ending in ``/``); only HTTP and HTTPS are fetched."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise InputError(f"--release-url must be an http:// or https:// URL, got {url!r}")
    return url if url.endswith("/") else url + "/"


def category_url(release: str, category: str) -> str:
    return urljoin(release, f"{category}/")


def read_release(release: str, settings: FetchSettings) -> str:
    """The release number in the release folder's RELEASE_NUMBER (``unknown``, with a
    warning, where the server does not have it or it holds no number)."""
    url = urljoin(release, RELEASE_NUMBER)
    try:
        text = fetch_page(url, settings).decode("utf-8", errors="replace").strip()
    except NotFound:
        text, why = "", f"{url} is not on the server"
    else:
        why = f"{url} holds no release number ({text[:40]!r})"
    if re.fullmatch(r"[0-9]+", text):
        log.info("RefSeq release %s (%s)", text, url)
        return text
    log.warning(
        "%s: the release is unknown; a file kept from an earlier run is used only if it "
        "has the size the server gives it now",
        why,
    )
    return UNKNOWN_RELEASE


def _size_text(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _check_file_name(name: str, url: str) -> str:
    """A downloaded file's name: plain, and one the samplesheet can take."""
    check_name(name, f"file name from {url}:")
    if not name.endswith(".gbff.gz"):
        raise InputError(f"{name} from {url}: a training file must be GenBank, gzipped (.gbff.gz)")
    sample_name(name)
    return name


def choose_files(plan: Plan) -> tuple[list[Wanted], dict[str, bytes], dict[str, int]]:
    """The viral files, then the host files the seeded draw picks from today's listings.

    Returns the files, each listing page as fetched, and the number of
    ``genomic.gbff.gz`` files each category listed.
    """
    release = release_url(plan.release_url)
    wanted = [
        Wanted(_check_file_name(name, release), urljoin(category_url(release, VIRAL_CATEGORY), name),
               VIRAL, VIRAL_CATEGORY)
        for name in plan.viral_files
    ]  # fmt: skip
    pages: dict[str, bytes] = {}
    listings: list[tuple[str, int, list[Link]]] = []
    for category, count in plan.host_files:
        url = category_url(release, category)
        pages[category] = fetch_page(url, plan.fetching)
        links = parse_listing(pages[category].decode("utf-8", errors="replace"), url)
        files = genomic_gbff(links)
        if not files:
            raise InputError(
                f"no genomic.gbff.gz file in the listing of {url} ({len(links)} links): "
                "is --release-url a RefSeq release folder, and the category one of its folders?"
            )
        listings.append((category, count, files))
    listed = {category: len(files) for category, _, files in listings}
    seen = {entry.name for entry in wanted}
    for choice in choose(listings, plan.seed):
        names = ", ".join(link.name for link in choice.chosen)
        log.info(
            "%s: %d %s files listed, %d asked, %d chosen: %s",
            choice.category, choice.listed, GENOMIC_GBFF, choice.asked, len(choice.chosen), names,
        )  # fmt: skip
        if choice.listed < choice.asked:
            log.warning(
                "%s: only %d listed, %d asked: all taken",
                choice.category, choice.listed, choice.asked,
            )  # fmt: skip
        for link in choice.chosen:
            if link.name in seen:
                log.warning("%s: %s is listed twice: downloaded once", choice.category, link.name)
                continue
            seen.add(link.name)
            wanted.append(
                Wanted(_check_file_name(link.name, link.url), link.url, HOST, choice.category,
                       str(choice.listed), str(choice.asked), link.size)
            )  # fmt: skip
    return wanted, pages, listed


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the folder's lock: two runs writing the same ``.part`` would corrupt it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"another download-refseq is writing to {folder}: wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_present(row: ManifestRow | None, path: Path) -> bool:
    """Whether ``path`` holds exactly the bytes ``row`` recorded (size, then SHA-256)."""
    if row is None or not path.is_file() or path.stat().st_size != row.bytes:
        return False
    return file_digest(path) == row.sha256


def _other_release(recorded: str, release: str) -> bool:
    """Whether ``recorded`` is a release other than ``release`` (both known)."""
    return UNKNOWN_RELEASE not in (recorded, release) and recorded != release


def _report_estimate(
    wanted: list[Wanted], folder: Path, earlier: dict[str, ManifestRow], release: str
) -> None:
    """Log what is left to download, from the listings' rounded sizes, and warn if the
    folder's disk has less free space."""
    missing = [
        entry
        for entry in wanted
        if entry.name not in earlier or _other_release(earlier[entry.name].release, release)
    ]
    sized = [entry.estimate for entry in missing if entry.estimate is not None]
    unknown = len(missing) - len(sized)
    free = shutil.disk_usage(folder if folder.is_dir() else Path.cwd()).free
    log.info(
        "%d files, %d not in the manifest yet or from another release: about %s to "
        "download%s; %s free in %s",
        len(wanted), len(missing), _size_text(sum(sized)),
        f" plus {unknown} file(s) of unknown size" if unknown else "", _size_text(free), folder,
    )  # fmt: skip
    if sum(sized) > free:
        log.warning(
            "%s may not have room for the files: about %s needed", folder, _size_text(sum(sized))
        )


def download_refseq(plan: Plan) -> Result:
    """Choose, download and check the files into ``plan.output_dir``; write the
    manifest and the samplesheet (nothing but the listings' report for a dry run)."""
    folder = plan.output_dir
    if folder.exists() and not folder.is_dir():
        raise InputError(f"cannot write {folder}: it is a file, not a folder")
    samplesheet = plan.samplesheet or folder / SAMPLESHEET
    manifest = folder / MANIFEST.name
    if plan.dry_run:
        release = read_release(release_url(plan.release_url), plan.fetching)
        wanted, _, listed = choose_files(plan)
        _report_estimate(wanted, folder, read_manifest(manifest), release)
        return Result(wanted, listed=listed, release=release)
    with _locked(folder):
        release = read_release(release_url(plan.release_url), plan.fetching)
        wanted, pages, listed = choose_files(plan)
        with AtomicOutputs() as outputs:
            for category, page in pages.items():
                outputs.write_bytes(folder / LISTINGS_FOLDER / f"{category}.html", page)
        earlier = read_manifest(manifest)
        _report_estimate(wanted, folder, earlier, release)
        result = Result(wanted, listed=listed, release=release)
        # Rows of the folder as it stands: this run's files so far, then earlier ones
        current = dict(earlier)
        for entry in wanted:
            row = _fetch(entry, folder, earlier.get(entry.name), release, plan.fetching)
            current[entry.name] = row
            result.rows.append(row)
            write_manifest(_ordered(current, wanted), manifest)
        if release != UNKNOWN_RELEASE and result.count(DOWNLOADED):
            _check_release_unchanged(plan, release)
        rows = _ordered(current, wanted, final=True, folder=folder)
        with AtomicOutputs() as outputs:
            samples = [Sample(folder / entry.name, entry.label) for entry in wanted]
            write_samplesheet(samples, samplesheet, plan.absolute_paths, outputs)
            write_manifest(rows, manifest, outputs)
    log.info(
        "release %s: %d files: %d downloaded, %d already present; %s lists %d viral and %d "
        "host files",
        release, len(wanted), result.count(DOWNLOADED), result.count(PRESENT), samplesheet,
        sum(entry.label == VIRAL for entry in wanted), sum(entry.label == HOST for entry in wanted),
    )  # fmt: skip
    return result


def _check_release_unchanged(plan: Plan, release: str) -> None:
    """Refuse to write the samplesheet when NCBI published a new release during the
    run: the files downloaded may belong to either. Their rows name the first release,
    so the next run downloads them again."""
    now = read_release(release_url(plan.release_url), plan.fetching)
    if _other_release(release, now):
        raise InputError(
            f"the release changed from {release} to {now} during the run, so the files "
            f"downloaded may mix the two: run again to download release {now}"
        )


def _fetch(
    entry: Wanted,
    folder: Path,
    earlier: ManifestRow | None,
    release: str,
    fetching: FetchSettings,
) -> ManifestRow:
    """The file's row: found intact and of this release (``present``), or downloaded now."""
    path = folder / entry.name
    row = ManifestRow(entry.name, entry.url, entry.label, entry.category, 0, "", DOWNLOADED,
                      entry.listed, entry.asked, release)  # fmt: skip
    if earlier is not None and path.is_file():
        if _other_release(earlier.release, release):
            log.info(
                "%s: from release %s, the release is now %s: downloading again",
                path, earlier.release, release,
            )  # fmt: skip
        elif (why := _why_again(entry, earlier, path, release, fetching)) is not None:
            log.warning("%s: %s", path, why)
        else:
            log.info(
                "%s: already present (release %s; size and SHA-256 as in the manifest)",
                entry.name, earlier.release,
            )  # fmt: skip
            return replace(row, bytes=earlier.bytes, sha256=earlier.sha256, status=PRESENT,
                           release=earlier.release)  # fmt: skip
    elif path.exists():
        log.warning("%s: not in the manifest: downloading it again", path)
    part = part_path(path)
    stamp = part.with_name(part.name + PART_RELEASE_SUFFIX)
    _drop_part_of_another_release(part, stamp, release)
    log.info("%s: downloading %s", entry.name, entry.url)
    try:
        stamp.write_text(release + "\n")
    except OSError as error:
        raise InputError(f"cannot write {stamp}: {error.strerror or error}") from None
    try:
        fetched = download(entry.url, path, fetching)
    finally:
        if not part.exists():
            stamp.unlink(missing_ok=True)
    log.info("%s: %s bytes, SHA-256 %s", entry.name, f"{fetched.bytes:,}", fetched.sha256)
    return replace(row, bytes=fetched.bytes, sha256=fetched.sha256)


def _why_again(
    entry: Wanted, earlier: ManifestRow, path: Path, release: str, fetching: FetchSettings
) -> str | None:
    """Why the file on disk, of the same release or one unknown, must be downloaded
    again; None where it can be used.

    Its size and SHA-256 must be the manifest's. Where either release is unknown, it
    must also have the size the server gives it now (HEAD), or, if the server gives
    none, a size not far from the one its listing prints.
    """
    if not _is_present(earlier, path):
        return "size or SHA-256 not as in the manifest: downloading it again"
    if UNKNOWN_RELEASE not in (earlier.release, release):
        return None
    size = remote_size(entry.url, fetching)
    if size is not None:
        if size != earlier.bytes:
            return (
                f"release unknown, and the server's file has {size:,} bytes, not the "
                f"{earlier.bytes:,} in the manifest: downloading again"
            )
        return None
    if entry.estimate is not None:
        if abs(entry.estimate - earlier.bytes) > _LISTING_TOLERANCE * earlier.bytes:
            return (
                f"release unknown, and the listing gives the file about {entry.estimate:,} "
                f"bytes, not the {earlier.bytes:,} in the manifest: downloading again"
            )
        return None
    log.warning(
        "%s: release unknown, and the server gives no size: kept as the manifest records it, "
        "which may be an earlier release's file",
        entry.name,
    )
    return None


def _drop_part_of_another_release(part: Path, stamp: Path, release: str) -> None:
    """Delete a ``.part`` recorded as part of another release (both known): resuming it
    would join two releases' bytes. One of unknown release is resumed; the gzip check
    refuses a file whose pieces do not belong together."""
    if not part.exists():
        return
    try:
        kept = stamp.read_text().strip() or UNKNOWN_RELEASE
    except FileNotFoundError:
        kept = UNKNOWN_RELEASE  # a .part of a version that did not record its release
    except OSError as error:
        raise InputError(f"cannot read {stamp}: {error.strerror or error}") from None
    if _other_release(kept, release):
        log.info(
            "%s: from release %s, the release is now %s: starting it again", part, kept, release
        )
        part.unlink()


def _ordered(
    rows: dict[str, ManifestRow],
    wanted: list[Wanted],
    final: bool = False,
    folder: Path | None = None,
) -> list[ManifestRow]:
    """This run's rows in samplesheet order, then the earlier rows (``unused`` once the
    run is done; dropped if their file is gone)."""
    names = [entry.name for entry in wanted]
    ordered = [rows[name] for name in names if name in rows]
    for name, row in rows.items():
        if name in names:
            continue
        if not final:
            ordered.append(row)
        elif folder is not None and (folder / name).is_file():
            if row.status != UNUSED:
                log.info("%s: not chosen by this run: kept on disk, not in the samplesheet", name)
            ordered.append(replace(row, status=UNUSED))
        else:
            log.info("%s: in the earlier manifest but not on disk: row dropped", name)
    return ordered
