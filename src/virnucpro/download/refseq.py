"""Download the original VirNucPro's training files from a RefSeq release into one folder.

The host files are drawn as the original download_data.py drew them (see
``sampling``) from the release's folder listings as they are today; the viral
files are named. Every file goes through ``fetch`` (resumable, size and gzip
checked), the folder's ``manifest.tsv`` is rewritten after each one, and the
samplesheet is written last, with the final manifest, once every file is there.
A rerun fetches the listings again, finds the same files (same listings, same
seed), and downloads only what the manifest does not vouch for.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from virnucpro.download.fetch import FetchSettings, download, fetch_page
from virnucpro.download.listing import GENOMIC_GBFF, Link, genomic_gbff, parse_listing
from virnucpro.download.manifest import (
    DOWNLOADED,
    MANIFEST,
    NOT_DRAWN,
    PRESENT,
    UNUSED,
    ManifestRow,
    read_manifest,
    write_manifest,
)
from virnucpro.download.samplesheet import Sample, sample_name, write_samplesheet
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

RELEASE_URL = "https://ftp.ncbi.nlm.nih.gov/refseq/release/"
LISTINGS_FOLDER = "listings"
LOCK_FILE = ".download_refseq.lock"
SAMPLESHEET = "samplesheet.csv"
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

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)


def release_url(url: str) -> str:
    """``url`` as a folder URL (ending in ``/``); only HTTP and HTTPS are fetched."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise InputError(f"--release-url must be an http:// or https:// URL, got {url!r}")
    return url if url.endswith("/") else url + "/"


def category_url(release: str, category: str) -> str:
    return urljoin(release, f"{category}/")


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


def _report_estimate(wanted: list[Wanted], folder: Path, earlier: dict[str, ManifestRow]) -> None:
    """Log what is left to download, from the listings' rounded sizes, and warn if the
    folder's disk has less free space."""
    missing = [entry for entry in wanted if entry.name not in earlier]
    sized = [entry.estimate for entry in missing if entry.estimate is not None]
    unknown = len(missing) - len(sized)
    free = shutil.disk_usage(folder if folder.is_dir() else Path.cwd()).free
    log.info(
        "%d files, %d not in the manifest yet: about %s to download%s; %s free in %s",
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
        wanted, _, listed = choose_files(plan)
        _report_estimate(wanted, folder, read_manifest(manifest))
        return Result(wanted, listed=listed)
    with _locked(folder):
        wanted, pages, listed = choose_files(plan)
        with AtomicOutputs() as outputs:
            for category, page in pages.items():
                outputs.write_bytes(folder / LISTINGS_FOLDER / f"{category}.html", page)
        earlier = read_manifest(manifest)
        _report_estimate(wanted, folder, earlier)
        result = Result(wanted, listed=listed)
        # Rows of the folder as it stands: this run's files so far, then earlier ones
        current = dict(earlier)
        for entry in wanted:
            row = _fetch(entry, folder, earlier.get(entry.name), plan.fetching)
            current[entry.name] = row
            result.rows.append(row)
            write_manifest(_ordered(current, wanted), manifest)
        rows = _ordered(current, wanted, final=True, folder=folder)
        with AtomicOutputs() as outputs:
            samples = [Sample(folder / entry.name, entry.label) for entry in wanted]
            write_samplesheet(samples, samplesheet, plan.absolute_paths, outputs)
            write_manifest(rows, manifest, outputs)
    log.info(
        "%d files: %d downloaded, %d already present; %s lists %d viral and %d host files",
        len(wanted), result.count(DOWNLOADED), result.count(PRESENT), samplesheet,
        sum(entry.label == VIRAL for entry in wanted), sum(entry.label == HOST for entry in wanted),
    )  # fmt: skip
    return result


def _fetch(
    entry: Wanted, folder: Path, earlier: ManifestRow | None, fetching: FetchSettings
) -> ManifestRow:
    """The file's row: found intact (``present``) or downloaded now."""
    path = folder / entry.name
    row = ManifestRow(entry.name, entry.url, entry.label, entry.category, 0, "", DOWNLOADED,
                      entry.listed, entry.asked)  # fmt: skip
    if _is_present(earlier, path):
        assert earlier is not None
        log.info("%s: already present (size and SHA-256 as in the manifest)", entry.name)
        return replace(row, bytes=earlier.bytes, sha256=earlier.sha256, status=PRESENT)
    if path.exists():
        why = "not in the manifest" if earlier is None else "size or SHA-256 not as in the manifest"
        log.warning("%s: %s: downloading it again", path, why)
    log.info("%s: downloading %s", entry.name, entry.url)
    fetched = download(entry.url, path, fetching)
    log.info("%s: %s bytes, SHA-256 %s", entry.name, f"{fetched.bytes:,}", fetched.sha256)
    return replace(row, bytes=fetched.bytes, sha256=fetched.sha256)


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
