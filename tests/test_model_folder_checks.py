"""Model folders and model files are inputs like any other, run as the user runs
``embed_dna.py``, ``embed_protein.py``, ``virnucpro verify-embedder`` and
``convert_legacy_model.py``.

* A folder of another registry entry given with ``--model-dir`` (FastESM2 as ESM2 and
  the reverse, DNABERT-S as a protein model, ESM2-650M sizes as ESM2-3B) or whose
  tokenizer rewrites residues is refused, naming both sides.
* A hostile ``config.json`` (2**40 positions, 0 or -4 heads, sizes that are strings,
  floats, booleans or huge, more weights than the files hold) is refused with one line
  naming the file, key and value, before anything is allocated.
* ``verify-embedder`` runs no code of the folder without ``--trust-remote-code``, never
  code of another repository (an ``auto_map`` with ``--``), and runs it offline.
* A legacy ``.pth`` zip bomb is refused from the zip directory, under an address-space
  and CPU-time limit.

What each refusal checks (one ``error:`` line, exit 1, nothing new, earlier outputs
unchanged) is described in ``command_runs``.
"""

from __future__ import annotations

import collections
import io
import json
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from command_runs import Command, Need, Refusal, Runs, check_refusal, outcomes_fixture, stub
from conftest import ROOT

from virnucpro.classify.legacy import convert_legacy_model
from virnucpro.embed.embedders.dnabert_s import load_dnabert_s
from virnucpro.embed.embedders.esm import load_esm
from virnucpro.embed.embedders.loader import check_model_folder, load_encoder
from virnucpro.embed.embedders.registry import get_embedder
from virnucpro.errors import InputError

RUNS = Runs()

outcomes = outcomes_fixture(RUNS)

MODELS = ROOT / "assets" / "models"
PROTEINS = ">a_chunk_1F1\nMKVLAAGWYPQRSTDE\n>b_chunk_1R2\nMEEPQSDPSV\n"
DNA = ">a_chunk_1F1\nATGAAACCCGGGTTTAAACGTTAGC\n>b_chunk_1R2\nACGTTGCAAGGCTTAC\n"
CPU = torch.device("cpu")
Edit = Callable[[Path], None]


# --------------------------------------------------------------------------- model folders


def _config(**values: object) -> Edit:
    """Set ``values`` in the folder's config.json."""

    def edit(model: Path) -> None:
        config = json.loads((model / "config.json").read_text())
        (model / "config.json").write_text(json.dumps(config | values))

    return edit


def _model(folder: Path, bundled: str, *edits: Edit) -> Path:
    """A copy of a bundled tiny model beside the run's folder, changed by ``edits``."""
    model = folder.parent / f"{folder.name}-model"
    shutil.copytree(MODELS / bundled, model)
    for edit in edits:
        edit(model)
    return model


def _embed(
    embedder: str,
    bundled: str,
    *words: str,
    edits: tuple[Edit, ...] = (),
    extra: tuple[str, ...] = (),
) -> Refusal:
    """The embed script of ``embedder``'s modality with ``--model-dir`` an edited copy of
    ``bundled`` (and ``extra`` options), over an earlier feature file."""
    script = "embed_dna.py" if "dnabert" in embedder else "embed_protein.py"

    def make(folder: Path, need: Need) -> Command:
        (folder / "frames.fasta").write_text(DNA if script == "embed_dna.py" else PROTEINS)
        stub(folder / "features.safetensors")
        return [script, "--embedder", embedder, "--model-dir", _model(folder, bundled, *edits),
                "--input", "frames.fasta", "--output", "features.safetensors",
                "--chunk-size", "300", "--device", "cpu", *extra]  # fmt: skip

    return Refusal(make, words=words)


def _verify(
    embedder: str,
    bundled: str,
    *words: str,
    edits: tuple[Edit, ...] = (),
    trust: bool = False,
    alone: bool = True,
) -> Refusal:
    """``virnucpro verify-embedder`` on an edited copy of ``bundled``, over earlier figures;
    its own HF_HOME (remote code is copied into $HF_HOME/modules)."""

    def make(folder: Path, need: Need) -> Command:
        stub(folder / "verify.json")
        return ["env", f"HF_HOME={folder.parent / f'{folder.name}-hf'}", "virnucpro",
                "verify-embedder", embedder, "--model-dir", _model(folder, bundled, *edits),
                "--device", "cpu", "--frames", "5", "--output", "verify.json",
                *(["--trust-remote-code"] if trust else [])]  # fmt: skip

    return Refusal(make, words=words, alone=alone)


def _vocabulary(first: str, second: str) -> Edit:
    """Swap two lines of vocab.txt: one residue would be read as another."""

    def edit(model: Path) -> None:
        lines = (model / "vocab.txt").read_text().split("\n")
        i, j = lines.index(first), lines.index(second)
        lines[i], lines[j] = lines[j], lines[i]
        (model / "vocab.txt").write_text("\n".join(lines))

    return edit


def _normalizer(normalizer: dict) -> Edit:
    def edit(model: Path) -> None:
        tokenizer = json.loads((model / "tokenizer.json").read_text())
        (model / "tokenizer.json").write_text(json.dumps(tokenizer | {"normalizer": normalizer}))

    return edit


def _lowercasing_tokenizer(model: Path) -> None:
    settings = {"tokenizer_class": "EsmTokenizer", "do_lower_case": True}
    (model / "tokenizer_config.json").write_text(json.dumps(settings))


def _tokenizer_added_token(model: Path) -> None:
    settings = json.loads((model / "tokenizer_config.json").read_text())
    settings["added_tokens_decoder"]["1"]["content"] = "<cls>"
    (model / "tokenizer_config.json").write_text(json.dumps(settings))


def _special_pad(token: str) -> Edit:
    def edit(model: Path) -> None:
        tokens = json.loads((model / "special_tokens_map.json").read_text())
        (model / "special_tokens_map.json").write_text(json.dumps(tokens | {"pad_token": token}))

    return edit


def _real_650m_sizes(model: Path) -> None:
    """ESM2-650M's sizes, with a weights file (sparse) as large as its weights need."""
    _config(hidden_size=1280, num_hidden_layers=33, num_attention_heads=20,
            intermediate_size=5120)(model)  # fmt: skip
    with (model / "model.safetensors").open("r+b") as weights:
        weights.truncate(2 * 660_000_000)


WRONG_MODEL = {
    "fastesm2-folder-as-esm2": _embed(
        "esm2_650m",
        "tiny_fastesm2",
        "config.json",
        "model_type 'fast_esm'",
        "esm2_650m",
        "needs 'esm'",
    ),
    "esm2-folder-as-fastesm2": _embed(
        "fastesm2_650",
        "tiny_esm2",
        "config.json",
        "model_type 'esm'",
        "fastesm2_650",
        "needs 'fast_esm'",
    ),
    "dnabert-s-folder-as-protein-model": _embed(
        "esm2_3b", "tiny_dnabert_s", "config.json", "model_type 'bert'", "esm2_3b", "needs 'esm'"
    ),
    "esm2-folder-as-dnabert-s": _embed(
        "dnabert_s", "tiny_esm2", "config.json", "model_type 'esm'", "dnabert_s", "needs 'bert'"
    ),
    "esm2-650m-sizes-as-esm2-3b": _embed(
        "esm2_3b",
        "tiny_esm2",
        "config.json",
        "hidden_size 1280",
        "esm2_3b",
        "needs 2560",
        edits=(_real_650m_sizes,),
    ),
    "no-model-type": _embed(
        "tiny_esm2",
        "tiny_esm2",
        "config.json",
        "no model_type",
        "needs 'esm'",
        edits=(_config(model_type=None),),
    ),
    "esm-vocabulary-reordered": _embed(
        "tiny_esm2",
        "tiny_esm2",
        "vocab.txt",
        "not the ESM2 vocabulary",
        "'A'",
        "'L'",
        edits=(_vocabulary("L", "A"),),
    ),
    "esm-tokenizer-lowercases": _embed(
        "tiny_esm2",
        "tiny_esm2",
        "tokenizer_config.json",
        "do_lower_case",
        edits=(_lowercasing_tokenizer,),
    ),
    "dnabert-s-normalizer-lowercases": _embed(
        "tiny_dnabert_s",
        "tiny_dnabert_s",
        "tokenizer.json",
        "[CLS]",
        "[UNK]",
        edits=(_normalizer({"type": "Lowercase"}),),
    ),
    "dnabert-s-normalizer-rewrites-bases": _embed(
        "tiny_dnabert_s",
        "tiny_dnabert_s",
        "tokenizer.json",
        "not as [CLS], the same bases",
        edits=(_normalizer({"type": "Replace", "pattern": {"String": "A"}, "content": "T"}),),
    ),
}


def _slow_but(table: dict[str, Refusal], *fast: str) -> tuple[str, ...]:
    """Every case of ``table`` but ``fast`` runs only with the slow tests (each command
    spends seconds importing torch); the in-process tests below cover their checks."""
    assert set(fast) <= table.keys()
    return tuple(name for name in table if name not in fast)


@pytest.mark.parametrize(
    "case",
    RUNS.cases(
        WRONG_MODEL,
        slow_ones=_slow_but(
            WRONG_MODEL,
            "fastesm2-folder-as-esm2",
            "dnabert-s-folder-as-protein-model",
            "esm2-650m-sizes-as-esm2-3b",
            "dnabert-s-normalizer-lowercases",
        ),
    ),
)
def test_folder_of_another_model_is_refused(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- hostile sizes


def _esm(key: str, value: object, *words: str) -> Refusal:
    shown = json.dumps(value) if not isinstance(value, str) else f"'{value}'"
    return _embed("tiny_esm2", "tiny_esm2", "config.json", key, shown, *words,
                  edits=(_config(**{key: value}),))  # fmt: skip


def _dnabert(key: str, value: object, *words: str) -> Refusal:
    shown = json.dumps(value) if not isinstance(value, str) else f"'{value}'"
    return _embed("tiny_dnabert_s", "tiny_dnabert_s", "config.json", key, shown, *words,
                  edits=(_config(**{key: value}),))  # fmt: skip


HUGE = {"hidden_size": 16384, "num_attention_heads": 16, "intermediate_size": 65536,
        "num_hidden_layers": 256}  # fmt: skip
LARGER_THAN_FILES = {"hidden_size": 2048, "num_attention_heads": 16, "num_hidden_layers": 8}


def _padded_config(model: Path) -> None:
    """A config.json of 2 MiB: valid JSON, padded with spaces."""
    config = model / "config.json"
    config.write_text(config.read_text() + " " * (2 << 20))


HOSTILE_SIZES = {
    "esm-config-of-2-mib": _embed(
        "tiny_esm2",
        "tiny_esm2",
        "config.json",
        "more than any model configuration",
        edits=(_padded_config,),
    ),
    "esm-positions-2-to-the-40": _esm("max_position_embeddings", 2**40, "from 1 to 65536"),
    "esm-zero-heads": _esm("num_attention_heads", 0),
    "esm-negative-heads": _esm("num_attention_heads", -4),
    "esm-too-many-weights": _embed(
        "tiny_esm2",
        "tiny_esm2",
        "config.json",
        "hidden_size 16384",
        "num_hidden_layers 256",
        "more than any supported model",
        edits=(_config(**HUGE),),
    ),
    "esm-more-weights-than-the-files": _embed(
        "tiny_esm2",
        "tiny_esm2",
        "config.json",
        "hidden_size 2048",
        "model.safetensors",
        "bytes",
        edits=(_config(**LARGER_THAN_FILES),),
    ),
    "dnabert-s-zero-heads": _dnabert("num_attention_heads", 0),
    "dnabert-s-negative-heads": _dnabert("num_attention_heads", -4),
    "dnabert-s-string-hidden-size": _dnabert("hidden_size", "32"),
    "dnabert-s-more-weights-than-the-files": _embed(
        "tiny_dnabert_s",
        "tiny_dnabert_s",
        "config.json",
        "hidden_size 2048",
        "pytorch_model.bin",
        "bytes",
        edits=(_config(**LARGER_THAN_FILES),),
    ),
    "verify-esm-positions-2-to-the-40": _verify(
        "tiny_esm2",
        "tiny_esm2",
        "config.json",
        "max_position_embeddings",
        "1099511627776",
        edits=(_config(max_position_embeddings=2**40),),
    ),
    "verify-dnabert-s-zero-heads": _verify(
        "tiny_dnabert_s",
        "tiny_dnabert_s",
        "config.json",
        "num_attention_heads 0",
        edits=(_config(num_attention_heads=0),),
    ),
}
SLOW_SIZES = _slow_but(
    HOSTILE_SIZES,
    "esm-positions-2-to-the-40",
    "esm-negative-heads",
    "esm-too-many-weights",
    "dnabert-s-zero-heads",
    "dnabert-s-string-hidden-size",
    "verify-esm-positions-2-to-the-40",
)


@pytest.mark.parametrize("case", RUNS.cases(HOSTILE_SIZES, slow_ones=SLOW_SIZES))
def test_hostile_sizes_are_refused_before_anything_is_allocated(outcomes, case):
    check_refusal(outcomes, case)


@pytest.mark.parametrize(
    ("bundled", "values", "expected"),
    [
        ("tiny_esm2", {"max_position_embeddings": 2**40}, "max_position_embeddings"),
        ("tiny_esm2", {"num_attention_heads": -4}, "num_attention_heads -4"),
        ("tiny_esm2", {"hidden_size": -32}, "hidden_size -32"),
        ("tiny_esm2", {"num_hidden_layers": 0}, "num_hidden_layers 0"),
        ("tiny_esm2", {"vocab_size": "33"}, "vocab_size '33'"),
        ("tiny_esm2", {"pad_token_id": 99}, "below vocab_size 33"),
        ("tiny_esm2", {"token_dropout": "yes"}, "token_dropout 'yes' is not true or false"),
        ("tiny_esm2", {"layer_norm_eps": 0}, "between 0 and 1"),
        ("tiny_esm2", {"num_attention_heads": 32}, "rotary needs an even size"),
        ("tiny_fastesm2", {"hidden_size": True}, "hidden_size true"),
        ("tiny_fastesm2", {"hidden_size": 32.0}, "hidden_size 32.0"),
        ("tiny_dnabert_s", {"num_attention_heads": 0}, "num_attention_heads 0"),
        ("tiny_dnabert_s", {"hidden_size": "32"}, "hidden_size '32'"),
        ("tiny_dnabert_s", {"vocab_size": 0}, "vocab_size 0"),
        ("tiny_dnabert_s", {"type_vocab_size": 1 << 30}, "type_vocab_size"),
        ("tiny_dnabert_s", {"layer_norm_eps": True}, "layer_norm_eps true"),
        ("tiny_esm2", {"hidden_size": 1 << 20}, "hidden_size 1048576"),
        ("tiny_esm2", {"vocab_size": 1 << 40}, "vocab_size 1099511627776"),
        ("tiny_esm2", {"intermediate_size": 1 << 31}, "intermediate_size 2147483648"),
        ("tiny_esm2", {"num_hidden_layers": True}, "num_hidden_layers true"),
        ("tiny_esm2", {"num_attention_heads": 5}, "hidden_size 32 .*multiple"),
        ("tiny_dnabert_s", {"num_hidden_layers": True}, "num_hidden_layers true"),
        ("tiny_dnabert_s", {"intermediate_size": 3.5}, "intermediate_size 3.5"),
        ("tiny_dnabert_s", {"intermediate_size": 1 << 40}, "intermediate_size 1099511627776"),
        ("tiny_dnabert_s", {"hidden_size": 30}, "num_attention_heads 4"),
    ],
)
def test_loaders_check_sizes_themselves(tmp_path, bundled, values, expected):
    # The loaders are public: called directly, they refuse the same configs.
    model = _model(tmp_path / "run", bundled, _config(**values))
    loader = load_dnabert_s if "dnabert" in bundled else load_esm
    with pytest.raises(InputError, match=expected):
        loader(model, CPU, torch.float32)


@pytest.mark.parametrize(
    ("embedder", "bundled", "edit", "expected"),
    [
        ("esm2_650m", "tiny_esm2", _config(model_type=None), "no model_type but embedder"),
        ("dnabert_s", "tiny_esm2", None, "model_type 'esm' but embedder dnabert_s needs 'bert'"),
        ("tiny_esm2", "tiny_esm2", _vocabulary("L", "A"), r"line 5: 'A', expected 'L'"),
        ("tiny_esm2", "tiny_esm2", _lowercasing_tokenizer, "do_lower_case"),
        ("tiny_fastesm2", "tiny_fastesm2", _tokenizer_added_token, "added token '<cls>' at id '1'"),
        (
            "tiny_dnabert_s",
            "tiny_dnabert_s",
            _normalizer({"type": "Replace", "pattern": {"String": "A"}, "content": "T"}),
            "not as \\[CLS\\], the same bases",
        ),
        ("tiny_dnabert_s", "tiny_dnabert_s", _special_pad("<pad>"), "pad_token '<pad>'"),
    ],
)
def test_folder_is_checked_against_the_registry_entry(tmp_path, embedder, bundled, edit, expected):
    model = _model(tmp_path / "run", bundled, *([edit] if edit else []))
    with pytest.raises(InputError, match=expected):
        load_encoder(get_embedder(embedder), model, CPU, torch.float32)


def test_test_sized_folders_load_under_the_real_entry_and_real_sizes_must_match(tmp_path):
    # make_test_model.py --size tiny folders stand for the real models in tests.
    encoder = load_encoder(get_embedder("esm2_650m"), MODELS / "tiny_esm2", CPU, torch.float32)
    assert encoder.dimension == 32
    model = _model(tmp_path / "run", "tiny_esm2", _real_650m_sizes)
    check_model_folder(get_embedder("esm2_650m"), model)  # the files are large enough
    fewer_layers = _model(tmp_path / "again", "tiny_esm2", _real_650m_sizes,
                          _config(num_hidden_layers=30))  # fmt: skip
    with pytest.raises(InputError, match="num_hidden_layers 30 but embedder esm2_650m needs 33"):
        check_model_folder(get_embedder("esm2_650m"), fewer_layers)


# --------------------------------------------------------------------------- folder code


def _modeling_writes_marker(model: Path) -> None:
    """modeling_fastesm.py that leaves ran.txt in the working folder if it is ever run."""
    (model / "modeling_fastesm.py").write_text(
        'open("ran.txt", "w").write("the model folder\'s code ran")\n'
    )


def _modeling_reports_offline(model: Path) -> None:
    (model / "modeling_fastesm.py").write_text(
        "import os\nfrom huggingface_hub import constants\n"
        "raise RuntimeError(f'offline={constants.is_offline_mode()} "
        'env={os.environ.get("HF_HUB_OFFLINE")}\')\n'
    )


def _auto_map_elsewhere(model: Path) -> None:
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {key: f"other/repo--{value}" for key, value in config["auto_map"].items()}
    (model / "config.json").write_text(json.dumps(config))


def _tokenizer_auto_map_elsewhere(model: Path) -> None:
    settings = json.loads((model / "tokenizer_config.json").read_text())
    settings["auto_map"] = {"AutoTokenizer": ["other/repo--tokenization_x.Tok", None]}
    (model / "tokenizer_config.json").write_text(json.dumps(settings))


FOLDER_CODE = {
    "verify-runs-no-folder-code-without-the-option": _verify(
        "fastesm2_650",
        "tiny_fastesm2",
        "modeling_fastesm.py",
        "--trust-remote-code",
        edits=(_modeling_writes_marker,),
    ),
    "verify-dnabert-s-auto-map-without-the-option": _verify(
        "tiny_dnabert_s", "tiny_dnabert_s", "bert_layers.py", "--trust-remote-code"
    ),
    "verify-auto-map-of-another-repository": _verify(
        "fastesm2_650",
        "tiny_fastesm2",
        "config.json",
        "other/repo--",
        "another repository",
        edits=(_modeling_writes_marker, _auto_map_elsewhere),
        trust=True,
    ),
    "embed-tokenizer-auto-map-of-another-repository": _embed(
        "tiny_esm2",
        "tiny_esm2",
        "tokenizer_config.json",
        "other/repo--tokenization_x",
        "another repository",
        edits=(_tokenizer_auto_map_elsewhere,),
        extra=("--trust-remote-code",),
    ),
    # The folder's code, allowed, runs offline: it reports what it sees in its error.
    "verify-folder-code-runs-offline": _verify(
        "fastesm2_650",
        "tiny_fastesm2",
        "trust_remote_code",
        "offline=True env=1",
        edits=(_modeling_reports_offline,),
        trust=True,
        alone=False,
    ),
}


@pytest.mark.parametrize(
    "case",
    RUNS.cases(
        FOLDER_CODE,
        slow_ones=_slow_but(
            FOLDER_CODE,
            "verify-runs-no-folder-code-without-the-option",
            "verify-auto-map-of-another-repository",
            "verify-folder-code-runs-offline",
        ),
    ),
)
def test_folder_code_runs_only_when_allowed_and_only_from_the_folder(outcomes, case):
    check_refusal(outcomes, case)


# --------------------------------------------------------------------------- legacy zip bomb

MIB = 1 << 20


def _zeros_deflated(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``mib`` MiB of zeros and their CRC-32, made in a fraction of a
    second: after a full flush the compressor starts afresh, so one flushed MiB is repeated."""
    chunk = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    unit = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return first + unit * (mib - 1) + compressor.flush(), crc


def _zip(members: list[tuple[str, int, bytes, int, int, int]]) -> bytes:
    """A zip archive written by hand, so that entries can declare any method and sizes: each
    member is (name, method, bytes in the file, crc, declared compressed size, declared
    size)."""
    out, central = io.BytesIO(), []
    for name, method, data, crc, packed, size in members:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, packed,
                              size, len(encoded), 0) + encoded + data)  # fmt: skip
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc,
                                   packed, size, len(encoded), 0, 0, 0, 0, 0, offset)
                       + encoded)  # fmt: skip
    start, directory = out.tell(), b"".join(central)
    out.write(directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members),
                                      len(members), len(directory), start, 0))  # fmt: skip
    return out.getvalue()


class _Storage:
    pass


class _Tensor:
    def __init__(self, storage: _Storage, numel: int) -> None:
        self.storage, self.numel = storage, numel

    def __reduce__(self):
        args = (self.storage, 0, (self.numel,), (1,), False, collections.OrderedDict())
        return (torch._utils._rebuild_tensor_v2, args)


def _data_pkl(storages: int, numel: int) -> bytes:
    """torch.save's data.pkl of ``storages`` float tensors of ``numel`` elements each."""
    refs = [_Storage() for _ in range(storages)]

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", torch.FloatStorage, str(refs.index(obj)), "cpu", numel)
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump({str(i): _Tensor(ref, numel) for i, ref in enumerate(refs)})
    return buffer.getvalue()


def _zip_bomb(path: Path, storages: int = 3) -> Path:
    """A 3 MB torch.save-like zip whose storages inflate to 1 GiB each."""
    stream, crc = _zeros_deflated(1024)
    pkl = _data_pkl(storages, 1 << 28)
    members = [("archive/data.pkl", 0, pkl, zlib.crc32(pkl), len(pkl), len(pkl))]
    members += [
        (f"archive/data/{i}", 8, stream, crc, len(stream), 1 << 30) for i in range(storages)
    ]
    path.write_bytes(_zip(members))
    return path


# The command under a 1.5 GiB address-space and a 20 s CPU-time limit: an attempt to
# inflate the bomb fails for memory, one that reads on is killed (SIGXCPU).
LIMITED = (
    "import os, resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))\n"
    "resource.setrlimit(resource.RLIMIT_CPU, (20, 20))\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


def _convert_bomb(folder: Path, need: Need) -> Command:
    bomb = _zip_bomb(folder / "300_model.pth")
    stub(folder / "converted" / "classifier.json")
    return ["python", "-c", LIMITED, "convert_legacy_model.py", "--input", bomb,
            "--output-dir", "converted", "--chunk-size", "300"]  # fmt: skip


LEGACY = {
    "legacy-zip-bomb-under-memory-limits": Refusal(
        _convert_bomb, words=("300_model.pth", "compressed entries", "uncompressed")
    )
}


@pytest.mark.parametrize("case", RUNS.cases(LEGACY))
def test_legacy_zip_bomb_is_refused_from_the_zip_directory(outcomes, case):
    check_refusal(outcomes, case)


@pytest.mark.parametrize(
    ("method", "packed", "expected"),
    [
        (8, 64, "compressed entries"),  # deflated: refused whatever the sizes
        (0, 64, "compressed entries"),  # stored, but 64 bytes said to hold 1 GiB
        (0, 1 << 30, r"declaring \d+ bytes in all, more than the \d+-byte file"),
    ],
)
def test_zip_entries_that_would_inflate_are_refused_unread(tmp_path, method, packed, expected):
    pkl = _data_pkl(1, 1 << 28)
    members = [
        ("archive/data.pkl", 0, pkl, zlib.crc32(pkl), len(pkl), len(pkl)),
        ("archive/data/0", method, bytes(64), 0, packed, 1 << 30),
    ]
    source = tmp_path / "m.pth"
    source.write_bytes(_zip(members))
    with pytest.raises(InputError, match=expected):
        convert_legacy_model(source, tmp_path / "out", 300)
    assert not (tmp_path / "out").exists()
