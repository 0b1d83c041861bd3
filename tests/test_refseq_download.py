"""download-refseq against a miniature RefSeq release served on 127.0.0.1.

The release tree is made of the repository's bundled GenBank files, gzipped, in
folders named like NCBI's (viral/, bacteria/, archaea/, ...), each with an
Apache/NCBI-like HTML listing that also links files the original left alone
(.fna.gz, .faa.gz, rna.gbff.gz, the parent folder, a sort link). The server can
drop a connection half-way, ignore Range requests, or announce a wrong size, so
that resuming and refusing are tested on real HTTP. Its RELEASE_NUMBER (228 unless
a test changes it or takes it away) tells which release it serves. The seeded choice is checked
against the original's calls (module-level ``random``, seeded once), written out
here independently of the code under test.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import random
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ASSETS, ROOT, run_script

from virnucpro.download.fetch import FetchSettings, NotGzip, part_path, verify_gzip
from virnucpro.download.listing import genomic_gbff, parse_listing
from virnucpro.download.refseq import Plan, download_refseq
from virnucpro.download.sampling import parse_host_files, parse_viral_files
from virnucpro.errors import InputError

# The original's categories and counts, in its order (download_data.py)
ORIGINAL = [
    ("bacteria", 1), ("archaea", 1), ("fungi", 1), ("protozoa", 1),
    ("plant", 10), ("invertebrate", 10), ("vertebrate_mammalian", 10), ("vertebrate_other", 10),
]  # fmt: skip
VIRAL = "viral.1.genomic.gbff.gz"
# Files per host folder of the miniature release: more than asked, except vertebrate_other
FILES_PER_CATEGORY = {category: 5 if count == 1 else 12 for category, count in ORIGINAL}
FILES_PER_CATEGORY["vertebrate_other"] = 3
FAST = FetchSettings(timeout=10, retries=0, backoff=0)
# The size the listings give the links that are not served (44M)
DECOY_SIZE = 44 << 20
NUMBER = "RELEASE_NUMBER"


def _text(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _gzip(text: bytes) -> bytes:
    return gzip.compress(text, mtime=0)


# --- The server


@dataclass
class Release:
    """A release tree in memory: file bytes by path ('bacteria/bacteria.1.genomic.gbff.gz'),
    extra page links by folder, the GET requests (path, Range) and HEAD requests seen,
    faults to play once or always, its RELEASE_NUMBER (None: answered 404) and whether
    it answers HEAD requests."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    url: str = ""
    number: str | None = "228"
    heads: list[str] = field(default_factory=list)
    head: bool = True

    def folder_names(self, folder: str) -> list[str]:
        """The file names of a folder in the order its listing shows them: the decoys, then
        the files in numeric order (bacteria.2 before bacteria.10), which is not text order,
        so that a draw from sorted names would differ from the original's."""
        names = [path.split("/", 1)[1] for path in self.files if path.startswith(f"{folder}/")]
        return [*_DECOYS(folder), *names]

    def listing(self, folder: str) -> str:
        if folder in self.pages:
            return self.pages[folder]
        rows = [
            f'<a href="{name}">{name}</a>{" " * (50 - len(name))}2024-03-11 10:50  '
            f"{_size(len(self.files[f'{folder}/{name}']) if f'{folder}/{name}' in self.files else DECOY_SIZE)}  "
            for name in self.folder_names(folder)
        ]
        return (
            f"<html>\n <head>\n  <title>Index of /refseq/release/{folder}</title>\n </head>\n"
            f" <body>\n<h1>Index of /refseq/release/{folder}</h1>\n"
            '<pre><a href="?C=N;O=D">Name</a>                    Last modified      Size  <hr>'
            '<a href="/refseq/release/">Parent Directory</a>                             -   \n'
            + "\n".join(rows)
            + "\n<hr></pre>\n</body>\n</html>\n"
        )

    def requested_files(self) -> list[str]:
        """The files downloaded (the listings and RELEASE_NUMBER left out)."""
        return [path for path, _ in self.requests if not path.endswith("/") and path != NUMBER]


def _DECOYS(folder: str) -> list[str]:
    """Links of a real release folder that are not genomic.gbff.gz files."""
    return [f"{folder}.1.1.genomic.fna.gz", f"{folder}.1.protein.faa.gz", f"{folder}.1.rna.gbff.gz"]


def _size(size: float) -> str:
    """Apache's rounded size column (44M, 1.2K, 512)."""
    for unit in ("", "K", "M", "G"):
        if size < 1024:
            return (
                str(size)
                if unit == ""
                else f"{size:.1f}{unit}"
                if size < 10
                else f"{size:.0f}{unit}"
            )
        size /= 1024
    return f"{size:.1f}T"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        release = self.server.release  # type: ignore[attr-defined]
        path = urlsplit(self.path).path.removeprefix("/release/")
        asked = self.headers.get("Range")
        release.requests.append((path, asked))
        if path == NUMBER and release.number is not None:
            if release.faults.get(NUMBER):  # the numbers to answer next, one per request
                release.number = release.faults[NUMBER].pop(0)
            self._send(200, f"{release.number}\n".encode(), {"Content-Type": "text/plain"})
            return
        folder = path[:-1]
        if path.endswith("/") and (
            folder in release.pages or any(name.startswith(path) for name in release.files)
        ):
            self._send(200, release.listing(folder).encode(), {"Content-Type": "text/html"})
            return
        if path not in release.files:
            self._send(404, b"not found", {})
            return
        faults = release.faults.get(path, [])
        fault = faults.pop(0) if faults and faults[0] != "always" else (faults[1] if faults else "")
        body = release.files[path]
        start = int(re.fullmatch(r"bytes=(\d+)-", asked)[1]) if asked else 0
        if fault == "ignore_range" or not asked:
            status, headers, start = 200, {}, 0
        elif start >= len(body):
            self._send(416, b"", {"Content-Range": f"bytes */{len(body)}"})
            return
        else:
            total = len(body) - 10 if fault == "wrong_total" else len(body)
            status, headers = 206, {"Content-Range": f"bytes {start}-{len(body) - 1}/{total}"}
        sent = body[start:]
        announced = len(sent) + (100 if fault == "overlong" else 0)
        if fault == "drop":
            sent = sent[: len(sent) // 2]
        self._send(status, sent, headers, announced)

    def do_HEAD(self) -> None:
        release = self.server.release  # type: ignore[attr-defined]
        path = urlsplit(self.path).path.removeprefix("/release/")
        release.heads.append(path)
        if not release.head:
            self._send(405, b"", {}, head=True)
        elif path in release.files:
            self._send(200, release.files[path], {}, head=True)
        else:
            self._send(404, b"", {}, head=True)

    def _send(
        self, status: int, body: bytes, headers: dict, length: int | None = None, head=False
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if not head:
            self.wfile.write(body)
        self.wfile.flush()


@pytest.fixture
def serve():
    """Start a server for a Release on 127.0.0.1 (port 0); stopped after the test."""
    servers = []

    def start(release: Release) -> Release:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.release = release  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        release.url = f"http://127.0.0.1:{server.server_address[1]}/release/"
        return release

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# Small bundled GenBank texts, cycled through the host files of the miniature release
HOST_TEXTS = [_text(ASSETS / name) for name in ("NC_005816.gb", "EU851978.gbk", "KF527485.gbk")]
VIRAL_TEXT = _text(ASSETS / "EU851978.gbk") + _text(ASSETS / "KF527485.gbk")


def miniature(files_per_category: dict[str, int] = FILES_PER_CATEGORY) -> Release:
    release = Release()
    release.files[f"viral/{VIRAL}"] = _gzip(VIRAL_TEXT)
    release.files["viral/viral.2.genomic.gbff.gz"] = _gzip(HOST_TEXTS[1])
    for category, count in files_per_category.items():
        for number in range(1, count + 1):
            text = HOST_TEXTS[number % len(HOST_TEXTS)]
            release.files[f"{category}/{category}.{number}.genomic.gbff.gz"] = _gzip(text)
    return release


@pytest.fixture
def release(serve) -> Release:
    return serve(miniature())


def run(release: Release, folder: Path, **settings) -> object:
    settings.setdefault("fetching", FAST)
    return download_refseq(Plan(output_dir=folder, release_url=release.url, **settings))


def original_choice(release: Release, seed: int = 42, categories=ORIGINAL) -> list[str]:
    """download_data.py's draw as it ran: the module's random seeded once, then
    random.sample of each listing's genomic.gbff.gz links, categories in order."""
    state = random.getstate()
    try:
        random.seed(seed)
        chosen = []
        for category, count in categories:
            links = [release.url + f"{category}/{name}" for name in release.folder_names(category)]
            files = [link for link in links if link.endswith("genomic.gbff.gz")]
            chosen += random.sample(files, min(count, len(files)))
    finally:
        random.setstate(state)
    return [url.rsplit("/", 1)[1] for url in chosen]


def rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- Listing pages


def test_listing_keeps_page_order_joins_links_and_reads_sizes(release):
    folder = release.url + "bacteria/"
    links = parse_listing(release.listing("bacteria"), folder)
    assert links[0].url == folder + "?C=N;O=D" and links[1].url == release.url.replace(
        "/release/", "/refseq/release/"
    )
    names = [link.name for link in links[2:]]
    assert names == release.folder_names("bacteria")  # page order
    assert names[:4] == [
        "bacteria.1.1.genomic.fna.gz", "bacteria.1.protein.faa.gz",
        "bacteria.1.rna.gbff.gz", "bacteria.1.genomic.gbff.gz",
    ]  # fmt: skip
    kept = genomic_gbff(links)
    assert [link.name for link in kept] == [
        f"bacteria.{n}.genomic.gbff.gz" for n in (1, 2, 3, 4, 5)
    ]
    assert all(link.url == folder + link.name for link in kept)
    plant = genomic_gbff(parse_listing(release.listing("plant"), release.url + "plant/"))
    assert [link.name for link in plant][9:11] == [
        "plant.10.genomic.gbff.gz",
        "plant.11.genomic.gbff.gz",
    ]
    sizes = {link.name: link.size for link in links}
    exact = len(release.files["bacteria/bacteria.1.genomic.gbff.gz"])
    assert abs(sizes["bacteria.1.genomic.gbff.gz"] - exact) <= 0.05 * exact
    assert sizes["bacteria.1.protein.faa.gz"] == DECOY_SIZE  # "44M"
    assert links[1].size is None  # the parent folder's "-"


# --- The seeded choice


def test_seeded_choice_is_the_originals_and_the_samplesheet_lists_it(release, tmp_path):
    result = run(release, tmp_path / "refseq")
    expected = original_choice(release, 42)
    sheet = rows(tmp_path / "refseq" / "samplesheet.csv")
    assert [row["sequences"] for row in sheet] == [VIRAL, *expected]
    assert sheet[0] == {"sample": "viral.1", "sequences": VIRAL, "label": "viral"}
    assert all(row["label"] == "host" for row in sheet[1:])
    assert [row["sample"] for row in sheet[1:]] == [
        name.removesuffix(".genomic.gbff.gz") for name in expected
    ]
    # 1 of 5 in each small category, 10 of 12 in the large ones, all 3 of vertebrate_other
    assert len(expected) == 4 + 3 * 10 + 3 and len(result.rows) == len(sheet)
    # What seed 42 draws from this listing (bacteria takes the first draw, archaea the next)
    assert expected[:2] == ["bacteria.1.genomic.gbff.gz", "archaea.1.genomic.gbff.gz"]
    assert (tmp_path / "refseq" / "listings" / "bacteria.html").read_text() == release.listing(
        "bacteria"
    )


def test_same_seed_same_files_other_seed_other_files(release, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    first = run(release, tmp_path / "a", dry_run=True)
    again = run(release, tmp_path / "b", dry_run=True)
    other = run(release, tmp_path / "c", seed=7, dry_run=True)
    assert not any(tmp_path.iterdir())  # a dry run writes nothing
    assert release.requested_files() == []
    assert "38 files, 38 not in the manifest yet or from another release: about " in caplog.text
    assert {first.release, again.release, other.release} == {"228"}
    names = [entry.name for entry in first.wanted]
    assert names == [entry.name for entry in again.wanted]
    seven = [entry.name for entry in other.wanted]
    assert seven == [VIRAL, *original_choice(release, 7)] and seven != names
    # Seed 7 draws bacteria.3 and archaea.2 where seed 42 draws bacteria.1 and archaea.1
    assert seven[1:3] == ["bacteria.3.genomic.gbff.gz", "archaea.2.genomic.gbff.gz"]


def test_counts_and_order_of_categories_are_settable(release, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    asked = parse_host_files(["plant=2,bacteria=1", "vertebrate_other=5"])
    assert asked == (("plant", 2), ("bacteria", 1), ("vertebrate_other", 5))
    result = run(
        release, tmp_path / "refseq", host_files=asked, viral_files=("viral.2.genomic.gbff.gz",)
    )
    names = [entry.name for entry in result.wanted]
    assert names == ["viral.2.genomic.gbff.gz", *original_choice(release, 42, asked)]
    assert [name.split(".")[0] for name in names[1:]] == ["plant"] * 2 + ["bacteria"] + [
        "vertebrate_other"
    ] * 3
    # A category with fewer files than asked: all taken, and said so
    assert "vertebrate_other: only 3 listed, 5 asked: all taken" in caplog.text
    manifest = rows(tmp_path / "refseq" / "manifest.tsv", "\t")
    assert {(row["category"], row["listed"], row["asked"]) for row in manifest} == {
        ("viral", "n/a", "n/a"), ("plant", "12", "2"), ("bacteria", "5", "1"),
        ("vertebrate_other", "3", "5"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["plant"], "bad --host-files entry 'plant': expected category=count with a count of at least 1, e.g. plant=10"),
        (["plant=0"], "bad --host-files entry 'plant=0'"),
        (["plant=2,plant=3"], "host category 'plant' is given twice in --host-files"),
        (["viral=1"], "viral is not a host category: the viral files are given with --viral-files"),
        (["../etc=1"], "host category '../etc' may hold only letters"),
        ([","], "--host-files names no category"),
    ],
)  # fmt: skip
def test_bad_host_files_are_refused(values, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_host_files(values)


@pytest.mark.parametrize("values", [[""], ["  "], ["viral.1.genomic.gbff.gz,"]])
def test_an_empty_viral_file_name_is_refused(values):
    with pytest.raises(InputError, match=re.escape(
        f"--viral-files {values[0]!r} holds an empty file name: give file names of the "
        "release's viral/ folder, e.g. viral.1.genomic.gbff.gz"
    )):  # fmt: skip
        parse_viral_files(values)
    assert parse_viral_files(["a.gbff.gz, b.gbff.gz", "c.gbff.gz"]) == (
        "a.gbff.gz", "b.gbff.gz", "c.gbff.gz",
    )  # fmt: skip


def test_command_refuses_an_empty_viral_files(tmp_path):
    result = run_script(
        "download_refseq.py", "--output-dir", tmp_path / "refseq", "--viral-files", "",
        "--release-url", "http://127.0.0.1:9/release/",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: --viral-files '' holds an empty file name: give file names of the release's "
        "viral/ folder, e.g. viral.1.genomic.gbff.gz"
    ]
    assert not (tmp_path / "refseq").exists()


# --- Manifest, samplesheet, rerun


def test_manifest_records_every_file_and_a_rerun_downloads_nothing(release, tmp_path, caplog):
    folder = tmp_path / "refseq"
    host_files = (("bacteria", 1), ("plant", 3))
    run(release, folder, host_files=host_files)
    manifest = rows(folder / "manifest.tsv", "\t")
    assert list(manifest[0]) == ["file", "url", "label", "category", "bytes", "sha256", "status", "listed", "asked", "release"]  # fmt: skip
    assert {row["release"] for row in manifest} == {"228"}
    for row in manifest:
        served = release.files[f"{row['category']}/{row['file']}"]
        assert row["url"] == release.url + f"{row['category']}/{row['file']}"
        assert (int(row["bytes"]), row["sha256"]) == (len(served), sha256(served))
        assert (folder / row["file"]).read_bytes() == served
    assert {row["status"] for row in manifest} == {"downloaded"}
    assert not list(folder.glob("*.part")) and not list(folder.glob(".*.partial"))

    release.requests.clear()
    caplog.set_level(logging.INFO)
    again = run(release, folder, host_files=host_files)
    assert release.requested_files() == []  # the listings only
    assert release.heads == []  # the same release: no size to ask for
    assert {row.status for row in again.rows} == {"present"}
    assert "release 228: 5 files: 0 downloaded, 5 already present" in caplog.text
    assert [row["sha256"] for row in rows(folder / "manifest.tsv", "\t")] == [row["sha256"] for row in manifest]  # fmt: skip


def test_a_changed_file_is_downloaded_again_and_an_unchosen_one_kept_as_unused(release, tmp_path):
    folder = tmp_path / "refseq"
    run(release, folder, host_files=(("bacteria", 1),))
    edited = bytearray((folder / VIRAL).read_bytes())
    edited[100] ^= 0xFF  # same size, other bytes: only the SHA-256 tells
    (folder / VIRAL).write_bytes(bytes(edited))
    release.requests.clear()
    run(release, folder, host_files=(("archaea", 1),))
    assert release.requested_files() == [f"viral/{VIRAL}", "archaea/archaea.1.genomic.gbff.gz"]
    manifest = {row["file"]: row for row in rows(folder / "manifest.tsv", "\t")}
    assert manifest[VIRAL]["status"] == "downloaded"
    assert (
        manifest["bacteria.1.genomic.gbff.gz"]["status"] == "unused"
    )  # kept, not in the samplesheet
    assert [row["sample"] for row in rows(folder / "samplesheet.csv")] == ["viral.1", "archaea.1"]


def test_samplesheet_elsewhere_names_files_relative_to_its_folder_or_absolute(release, tmp_path):
    folder = tmp_path / "refseq"
    run(release, folder, host_files=(("fungi", 1),), samplesheet=tmp_path / "sheets" / "train.csv")
    sheet = rows(tmp_path / "sheets" / "train.csv")
    assert sheet[0]["sequences"] == f"../refseq/{VIRAL}"
    assert not (folder / "samplesheet.csv").exists()
    run(
        release,
        folder,
        host_files=(("fungi", 1),),
        samplesheet=tmp_path / "abs.csv",
        absolute_paths=True,
    )
    assert rows(tmp_path / "abs.csv")[0]["sequences"] == str((folder / VIRAL).resolve())


# --- A new release: files keep their names, the manifest tells them apart


def _manifest(folder: Path) -> dict[str, dict[str, str]]:
    return {row["file"]: row for row in rows(folder / "manifest.tsv", "\t")}


# The viral file of release 229: same name, other genomes, another size
NEW_VIRAL = _gzip(HOST_TEXTS[0] + VIRAL_TEXT)


def test_a_new_release_downloads_every_file_again(release, tmp_path, caplog):
    folder = tmp_path / "refseq"
    run(release, folder, host_files=(("bacteria", 1),))
    assert {row["release"] for row in _manifest(folder).values()} == {"228"}
    release.number = "229"
    release.files[f"viral/{VIRAL}"] = NEW_VIRAL
    release.requests.clear()
    caplog.set_level(logging.INFO)
    # The local copies still match their rows: only the release tells them apart
    assert run(release, folder, host_files=(("bacteria", 1),), dry_run=True).release == "229"
    assert "2 files, 2 not in the manifest yet or from another release" in caplog.text
    again = run(release, folder, host_files=(("bacteria", 1),))
    assert release.requested_files() == [f"viral/{VIRAL}", "bacteria/bacteria.1.genomic.gbff.gz"]
    assert release.heads == []
    assert (folder / VIRAL).read_bytes() == NEW_VIRAL
    assert f"{folder / VIRAL}: from release 228, the release is now 229: downloading again" in (
        caplog.text
    )
    manifest = _manifest(folder)
    assert {(row["release"], row["status"]) for row in manifest.values()} == {("229", "downloaded")}
    assert manifest[VIRAL]["sha256"] == sha256(NEW_VIRAL)
    assert again.release == "229"


def test_a_part_of_another_release_is_not_resumed(release, tmp_path, caplog):
    folder = tmp_path / "refseq"
    release.faults[f"viral/{VIRAL}"] = ["drop"]
    part = part_path(folder / VIRAL)
    with pytest.raises(InputError, match="run again to resume"):
        run(release, folder, host_files=(("bacteria", 1),))
    assert part.with_name(part.name + ".release").read_text() == "228\n"
    release.number = "229"
    release.files[f"viral/{VIRAL}"] = NEW_VIRAL
    release.requests.clear()
    caplog.set_level(logging.INFO)
    run(release, folder, host_files=(("bacteria", 1),))
    assert [asked for path, asked in release.requests if path == f"viral/{VIRAL}"] == [None]
    assert f"{part}: from release 228, the release is now 229: starting it again" in caplog.text
    assert (folder / VIRAL).read_bytes() == NEW_VIRAL
    assert not part.exists() and not part.with_name(part.name + ".release").exists()


def test_without_release_number_a_file_of_another_size_is_downloaded_again(
    release, tmp_path, caplog
):
    folder = tmp_path / "refseq"
    release.number = None
    caplog.set_level(logging.INFO)
    run(release, folder, host_files=(("bacteria", 1),))
    warning = "RELEASE_NUMBER is not on the server: the release is unknown"
    assert caplog.text.count(warning) == 1
    assert {row["release"] for row in _manifest(folder).values()} == {"unknown"}
    release.files[f"viral/{VIRAL}"] = NEW_VIRAL  # a new release, not announced
    release.requests.clear()
    caplog.clear()
    again = run(release, folder, host_files=(("bacteria", 1),))
    assert caplog.text.count(warning) == 1
    assert sorted(release.heads) == ["bacteria/bacteria.1.genomic.gbff.gz", f"viral/{VIRAL}"]
    assert release.requested_files() == [f"viral/{VIRAL}"]  # bacteria.1: the same size
    assert (folder / VIRAL).read_bytes() == NEW_VIRAL
    assert (
        f"release unknown, and the server's file has {len(NEW_VIRAL):,} bytes, not the "
        f"{len(_gzip(VIRAL_TEXT)):,} in the manifest: downloading again"
    ) in caplog.text
    assert [row.status for row in again.rows] == ["downloaded", "present"]


def test_a_manifest_without_the_release_column_is_of_release_unknown(release, tmp_path):
    folder = tmp_path / "refseq"
    run(release, folder, host_files=(("bacteria", 1),))
    lines = (folder / "manifest.tsv").read_text().splitlines()
    (folder / "manifest.tsv").write_text(
        "".join(line.rsplit("\t", 1)[0] + "\n" for line in lines)  # as written before
    )
    release.requests.clear()
    again = run(release, folder, host_files=(("bacteria", 1),))
    # Release unknown on the manifest's side: kept, as the server's sizes are the same
    assert release.requested_files() == [] and len(release.heads) == 2
    assert [(row.status, row.release) for row in again.rows] == [("present", "unknown")] * 2


def test_without_release_number_or_head_the_listing_size_is_compared(release, tmp_path, caplog):
    folder = tmp_path / "refseq"
    release.number, release.head = None, False
    run(release, folder, host_files=(("bacteria", 1),))
    # bacteria.1 of a new release, more than three times larger: its listing says so
    bigger = _gzip(random.Random(1).randbytes(20_000))
    release.files["bacteria/bacteria.1.genomic.gbff.gz"] = bigger
    release.requests.clear()
    caplog.set_level(logging.INFO)
    again = run(release, folder, host_files=(("bacteria", 1),))
    assert release.requested_files() == ["bacteria/bacteria.1.genomic.gbff.gz"]
    assert (folder / "bacteria.1.genomic.gbff.gz").read_bytes() == bigger
    assert "release unknown, and the listing gives the file about " in caplog.text
    # The viral file is named, not listed: no size to compare, kept and said so
    assert (
        f"{VIRAL}: release unknown, and the server gives no size: kept as the manifest records "
        "it, which may be an earlier release's file"
    ) in caplog.text
    assert [row.status for row in again.rows] == ["present", "downloaded"]


def test_a_release_published_during_the_run_stops_it_before_the_samplesheet(release, tmp_path):
    folder = tmp_path / "refseq"
    release.faults[NUMBER] = ["228", "229"]  # read before the listings, then after the files
    with pytest.raises(InputError) as failure:
        run(release, folder, host_files=(("bacteria", 1),))
    assert str(failure.value) == (
        "the release changed from 228 to 229 during the run, so the files downloaded may mix "
        "the two: run again to download release 229"
    )
    assert not (folder / "samplesheet.csv").exists()
    assert {row["release"] for row in _manifest(folder).values()} == {"228"}
    release.requests.clear()
    run(release, folder, host_files=(("bacteria", 1),))  # 229 throughout
    assert release.requested_files() == [f"viral/{VIRAL}", "bacteria/bacteria.1.genomic.gbff.gz"]
    assert {row["release"] for row in _manifest(folder).values()} == {"229"}


def test_a_release_number_that_is_no_number_is_unknown(release, tmp_path, caplog):
    release.number = "<html>Not here</html>"
    assert run(release, tmp_path, dry_run=True).release == "unknown"
    assert "RELEASE_NUMBER holds no release number ('<html>Not here</html>')" in caplog.text


# --- Resuming


def test_an_interrupted_download_resumes_with_range_on_the_next_run(release, tmp_path):
    folder = tmp_path / "refseq"
    release.faults[f"viral/{VIRAL}"] = ["drop"]
    whole = release.files[f"viral/{VIRAL}"]
    half = len(whole) // 2
    part = part_path(folder / VIRAL)
    with pytest.raises(InputError) as failure:
        run(release, folder, host_files=(("bacteria", 1),))
    assert str(failure.value) == (
        f"cannot download {release.url}viral/{VIRAL}: connection closed after {half:,} of "
        f"{len(whole):,} bytes; gave up after 1 try; {half:,} bytes kept in {part}: "
        "run again to resume"
    )
    assert part.read_bytes() == whole[:half]
    assert not (folder / VIRAL).exists() and not (folder / "samplesheet.csv").exists()

    release.requests.clear()
    run(release, folder, host_files=(("bacteria", 1),))
    assert (f"viral/{VIRAL}", f"bytes={half}-") in release.requests
    assert sha256((folder / VIRAL).read_bytes()) == sha256(whole)
    assert not part.exists()
    assert rows(folder / "manifest.tsv", "\t")[0]["sha256"] == sha256(whole)


def test_retries_resume_within_a_run(release, tmp_path):
    release.faults[f"viral/{VIRAL}"] = ["drop", "drop"]
    whole = release.files[f"viral/{VIRAL}"]
    run(release, tmp_path, host_files=(("bacteria", 1),), fetching=FetchSettings(10, 2, 0))
    ranges = [asked for path, asked in release.requests if path == f"viral/{VIRAL}"]
    half = len(whole) // 2
    assert ranges == [None, f"bytes={half}-", f"bytes={half + (len(whole) - half) // 2}-"]
    assert (tmp_path / VIRAL).read_bytes() == whole


def test_a_server_ignoring_range_restarts_the_file_from_zero(release, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    whole = release.files[f"viral/{VIRAL}"]
    part = part_path(tmp_path / VIRAL)
    part.write_bytes(b"stale bytes of another file")
    release.faults[f"viral/{VIRAL}"] = ["ignore_range"]
    run(release, tmp_path, host_files=(("bacteria", 1),))
    assert (tmp_path / VIRAL).read_bytes() == whole and not part.exists()
    assert "the server ignored the Range request: downloading it from the start" in caplog.text


def test_a_whole_part_answered_416_is_taken_as_complete(release, tmp_path):
    whole = release.files[f"viral/{VIRAL}"]
    part_path(tmp_path / VIRAL).write_bytes(whole)
    run(release, tmp_path, host_files=(("bacteria", 1),))
    assert (tmp_path / VIRAL).read_bytes() == whole


# --- Refusing


def _refused(release, folder, message):
    with pytest.raises(InputError) as failure:
        run(release, folder, host_files=(("bacteria", 1),))
    assert str(failure.value) == message
    assert not (folder / VIRAL).exists() and not (folder / "samplesheet.csv").exists()


def test_a_truncated_gzip_is_refused_and_deleted(release, tmp_path):
    release.files[f"viral/{VIRAL}"] = release.files[f"viral/{VIRAL}"][:-20]
    _refused(release, tmp_path, (
        f"{VIRAL} from {release.url}viral/{VIRAL} is not a whole gzip file (it ends inside its "
        "gzip stream: cut short): deleted, not used; run again to download it anew"
    ))  # fmt: skip
    assert not part_path(tmp_path / VIRAL).exists()


def test_a_file_that_is_not_gzip_is_refused(release, tmp_path):
    release.files[f"viral/{VIRAL}"] = b"<html>Service unavailable</html>"
    with pytest.raises(InputError, match=r"is not a whole gzip file \(corrupt gzip data: "):
        run(release, tmp_path, host_files=(("bacteria", 1),))
    assert sorted(path.name for path in tmp_path.iterdir()) == [".download_refseq.lock", "listings"]


def test_fewer_bytes_than_announced_are_refused_after_the_retries(release, tmp_path):
    whole = release.files[f"viral/{VIRAL}"]
    release.faults[f"viral/{VIRAL}"] = ["always", "overlong"]
    part = part_path(tmp_path / VIRAL)
    _refused(release, tmp_path, (
        f"cannot download {release.url}viral/{VIRAL}: connection closed after {len(whole):,} of "
        f"{len(whole) + 100:,} bytes; gave up after 1 try; {len(whole):,} bytes kept in {part}: "
        "run again to resume"
    ))  # fmt: skip


def test_a_size_other_than_the_servers_total_is_refused(release, tmp_path):
    whole = release.files[f"viral/{VIRAL}"]
    part_path(tmp_path / VIRAL).write_bytes(whole[:100])
    release.faults[f"viral/{VIRAL}"] = ["wrong_total"]
    _refused(release, tmp_path, (
        f"{VIRAL} from {release.url}viral/{VIRAL} has {len(whole):,} bytes, the server announced "
        f"{len(whole) - 10:,}: deleted, not used"
    ))  # fmt: skip
    assert not part_path(tmp_path / VIRAL).exists()


def test_a_missing_file_and_a_listing_without_gbff_are_errors(serve, tmp_path):
    release = serve(miniature({"bacteria": 2, "fungi": 1}))
    release.pages["fungi"] = (
        '<html><a href="fungi.1.1.genomic.fna.gz">x</a><a href="../">up</a></html>'
    )
    with pytest.raises(InputError) as failure:
        run(release, tmp_path, host_files=(("bacteria", 1), ("fungi", 1)))
    assert str(failure.value) == (
        f"no genomic.gbff.gz file in the listing of {release.url}fungi/ (2 links): is "
        "--release-url a RefSeq release folder, and the category one of its folders?"
    )
    with pytest.raises(InputError) as failure:
        run(release, tmp_path, host_files=(("protozoa", 1),))
    assert str(failure.value) == f"cannot download {release.url}protozoa/: HTTP 404 Not Found"


def test_gzip_check_reads_every_member_and_allows_zero_padding(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(_gzip(b"LOCUS a\n") + _gzip(b"LOCUS b\n") + b"\0" * 8)
    assert verify_gzip(path) == sha256(path.read_bytes())
    path.write_bytes(_gzip(b"LOCUS a\n") + _gzip(b"LOCUS b\n")[:-3])
    with pytest.raises(NotGzip, match="cut short"):
        verify_gzip(path)
    corrupt = bytearray(_gzip(b"LOCUS a\n" * 100))
    corrupt[-6] ^= 0xFF  # the stored length
    path.write_bytes(bytes(corrupt))
    with pytest.raises(NotGzip, match="corrupt gzip data"):
        verify_gzip(path)
    path.write_bytes(b"")
    with pytest.raises(NotGzip, match="the file is empty"):
        verify_gzip(path)


def test_command_prints_one_error_line_for_a_corrupt_file(release, tmp_path):
    release.files[f"viral/{VIRAL}"] = release.files[f"viral/{VIRAL}"][:-20]
    result = run_script(
        "download_refseq.py", "--output-dir", tmp_path, "--release-url", release.url,
        "--host-files", "bacteria=1", "--retries", "0",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {VIRAL} from {release.url}viral/{VIRAL} is not a whole gzip file (it ends "
        "inside its gzip stream: cut short): deleted, not used; run again to download it anew"
    ]
    assert result.stderr.rstrip().endswith(errors[0])
    assert "bacteria: 5 genomic.gbff.gz files listed, 1 asked, 1 chosen" in result.stderr
    assert not (tmp_path / VIRAL).exists()


# --- The downloaded samplesheet drives the comparison


@pytest.mark.slow
def test_downloaded_samplesheet_runs_the_compare_chain(serve, tmp_path):
    small = ASSETS / "microviruses_12.gbk"
    release = Release()
    release.files[f"viral/{VIRAL}"] = _gzip(_text(small) + VIRAL_TEXT)
    for path, source in {
        "bacteria/bacteria.1.genomic.gbff.gz": "NC_005816.gb",
        "plant/plant.1.genomic.gbff.gz": "arab1.gb.gz",
        "plant/plant.2.genomic.gbff.gz": "NC_000932.gb.gz",
        "invertebrate/invertebrate.1.genomic.gbff.gz": "extra_keywords.gb.gz",
    }.items():
        release.files[path] = _gzip(_text(ASSETS / source))
    serve(release)
    hosts = (("bacteria", 1), ("plant", 10), ("invertebrate", 10))
    run(release, tmp_path / "refseq", host_files=hosts)
    workdir = tmp_path / "chain"
    result = subprocess.run(
        [sys.executable, ROOT / "scripts" / "compare_chain.py", "--samplesheet",
         tmp_path / "refseq" / "samplesheet.csv", "--workdir", workdir,
         "--embedders", "tiny_esm2,tiny_fastesm2", "--dna-model", "tiny_dnabert_s",
         "--baseline", "tiny_esm2", "--bootstrap", "50"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    table = rows(workdir / "comparison" / "comparison.tsv", "\t")
    assert {row["embedder"] for row in table} == {"tiny_esm2", "tiny_fastesm2"}
