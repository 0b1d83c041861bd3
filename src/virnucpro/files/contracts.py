"""Every file one step hands to another, spelled once: its name, TSV columns or format tag.

Writers write ``Table.header`` and readers check the same columns, so a renamed
column cannot leave a reader behind. JSON and safetensors files carry a
``format`` tag, bumped when their content changes meaning; readers refuse any
other tag. ``docs/layout.md`` names the function that writes each file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A tab-separated table: the name ending it has in the pipeline, its columns in
    order, what an error calls it, and the columns a reader needs (default: all)."""

    name: str
    columns: tuple[str, ...]
    what: str
    required: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        """The header line, newline included."""
        return "\t".join(self.columns) + "\n"

    @property
    def needed(self) -> tuple[str, ...]:
        """The columns a reader refuses a table without."""
        return self.required or self.columns


@dataclass(frozen=True)
class Tagged:
    """A JSON or safetensors file: its name in the pipeline and the ``format`` tag it carries."""

    name: str
    format: str
    what: str


# --- Training data

#: download_refseq.py: every RefSeq file of the download folder, with its checksum and
#: why it is there (status), its category's listed and asked counts, and the release it
#: came from (a manifest without the release column reads as release "unknown")
MANIFEST = Table(
    "manifest.tsv",
    ("file", "url", "label", "category", "bytes", "sha256", "status", "listed", "asked", "release"),
    "a download manifest",
    required=("file", "bytes", "sha256"),
)

# --- Preprocessing

#: select_frames.py: one row per chunk, its length, stop-free frames (or no_frame) and the
#: SHA-256 of its bases (uppercase), which ties the calls to the sequences they were made of
FRAMES_REPORT = Table("frames.tsv", ("chunk_id", "length", "frames", "sha256"), "a frames report")
#: build_training_set.py: where each kept frame came from; label 1 viral, 0 host
SOURCES = Table("sources.tsv", ("frame_id", "genome", "label", "source"), "a sources table")
#: Read length of the projection counts: records cut as predict mode cuts contigs at
#: --chunk_size 500 (the counts columns below are named after it)
PROJECTION_READ_LENGTH = 500
#: build_training_set.py: per input, every record, CDS, chunk and frame counted; cds_source
#: says where the CDS come from ("annotated", or the gene finder and its mode for a FASTA
#: genome: "pyrodigal:single", "pyrodigal:meta", "pyrodigal-gv:meta"), cds_predicted how
#: many genes it predicted
COUNTS = Table(
    "counts.tsv",
    (
        "source",
        "label",
        "records",
        "cds_translations",
        "chunks",
        "chunks_ambiguous",
        "frames_kept",
        "cds_translated",
        "cds_skipped_pseudo",
        "cds_skipped_untranslatable",
        "cds_source",
        "cds_predicted",
        f"reads_{PROJECTION_READ_LENGTH}bp",
        f"read_frames_{PROJECTION_READ_LENGTH}bp",
        "warning",
    ),
    "a counts table",
    required=(
        "source",
        f"reads_{PROJECTION_READ_LENGTH}bp",
        f"read_frames_{PROJECTION_READ_LENGTH}bp",
    ),
)
#: build_training_set.py: FracMinHash sketch of every record
SKETCHES = Tagged("sketches.safetensors", "virnucpro-sketches/1", "a sketches file")
#: split_dataset.py: split/train.tsv, split/validation.tsv and split/test.tsv
SPLIT_LIST = Table(
    "{train,validation,test}.tsv", SOURCES.columns, "a split list", ("frame_id", "label")
)
#: shard_frames.py --ids: any table with a frame_id column (the split lists)
ID_LIST = Table("*.tsv", ("frame_id",), "an id list")
#: split_dataset.py: every genome, its cluster of similar genomes and its split
CLUSTERS = Table(
    "clusters.tsv", ("cluster", "genome", "label", "frames", "split"), "a clusters table"
)
#: split_dataset.py: frames, genomes and clusters per split and label
SPLIT_SUMMARY = Table(
    "summary.tsv", ("split", "label", "frames", "genomes", "clusters"), "a split summary"
)

# --- Embedding

#: embed_dna.py, embed_protein.py, merge_features.py: a float32 matrix with ids and provenance
FEATURES = Tagged("{dna,protein,merged}.safetensors", "virnucpro-features/1", "a feature file")
#: model_cache.py --report: the models a run uses, where each comes from (cache,
#: model-free, bundled) and, from the cache, the revision asked (the pin, or a branch,
#: tag or commit given) and the commit it resolved to
MODEL_CACHE = Table(
    "model_cache.tsv",
    ("embedder", "source", "model_id", "revision", "commit", "folder", "size_bytes"),
    "a model cache report",
)
#: benchmark_embedder.py: one embedder's speed and memory, and which model was timed
BENCHMARK = Tagged("benchmark.json", "virnucpro-benchmark/3", "a benchmark")
#: virnucpro verify-embedder --output: native loader against the repository's code
VERIFICATION = Tagged("verification.json", "virnucpro-verify-embedder/1", "a verification")

# --- Classification

#: train_classifier.py: the checkpoint's metadata (beside model.safetensors)
CLASSIFIER = Tagged("classifier.json", "virnucpro-classifier/1", "a classifier")
CLASSIFIER_WEIGHTS = "model.safetensors"
#: train_classifier.py: 64-bit hashes of the train and validation frame ids (beside it)
TRAINING_IDS = Tagged(
    "training_ids.safetensors", "virnucpro-training-ids/1", "a classifier's training ids"
)
#: train_classifier.py: one row per epoch
TRAINING_LOG = Table(
    "training_log.tsv",
    ("epoch", "train_loss", "validation_loss", "validation_accuracy", "learning_rate"),
    "a training log",
)
#: The frame metrics of evaluation.json and comparison.tsv, in their order
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "auroc", "mcc")
#: evaluate_classifier.py (format /3: whether the test frames are unseen by the classifier,
#: and the protein model's weights digest)
EVALUATION = Tagged("evaluation.json", "virnucpro-evaluation/3", "an evaluation")
#: evaluate_classifier.py: every test frame, its true label (1 viral) and its scores
TEST_PREDICTIONS = Table(
    "test_predictions.tsv",
    ("frame_id", "label", "prediction", "score1", "score2"),
    "a test_predictions.tsv",
)
#: classify.py: score1 = P(others), score2 = P(virus), the column names of the original tool
FRAME_SCORES = Table(
    "frame_scores.tsv", ("Sequence_ID", "Prediction", "score1", "score2"), "a frame scores table"
)
#: classify.py: max_score1 / max_score2 = the highest P(others) / P(virus) of the chunk's frames
CHUNK_CALLS = Table(
    "chunk_calls.tsv",
    ("chunk_id", "prediction", "frames", "max_score1", "max_score2"),
    "a chunk calls table",
)
#: classify.py: one call per input sequence, from its chunks; then its length in bases
#: (NA when classify.py was not given the FASTA), coverage = chunks_with_frames / chunks
#: and low_coverage (yes/no: coverage under --min-coverage), after the columns of earlier
#: versions so that a reader by position keeps working
SEQUENCE_CALLS = Table(
    "sequence_calls.tsv",
    (
        "sequence_id",
        "chunks",
        "chunks_with_frames",
        "viral_chunks",
        "max_viral_score",
        "call",
        "length",
        "coverage",
        "low_coverage",
    ),
    "a sequence calls table",
)
#: virnucpro predict: what made a prefix's outputs (input path and sha256, classifier id,
#: parameters, version, date), so that another input's outputs are not replaced unasked
PREDICT_RUN = Tagged("run.json", "virnucpro-predict-run/1", "a predict run record")

# --- Comparison

#: The metrics whose difference from the baseline gets a paired interval
PAIRED_DELTAS = ("f1", "auroc", "mcc")
#: The paired columns of comparison.tsv, in order
PAIRED_COLUMNS = (
    *[f"delta_{name}{end}" for name in PAIRED_DELTAS for end in ("", "_low", "_high")],
    "mcnemar_b",
    "mcnemar_c",
    "mcnemar_p",
)
#: The speed columns of comparison.tsv, from the benchmark of the same name
SPEED_COLUMNS = (
    "sequences_per_second",
    "sequences_per_second_low",
    "sequences_per_second_high",
    "tokens_per_second",
    "peak_memory_gib",
    "load_seconds",
)
#: Levels above the frame, and the metrics comparison.tsv gives for each
LEVELS = ("chunk", "sequence")
LEVEL_METRICS = ("f1", "accuracy")
LEVEL_COLUMNS = tuple(
    f"{level}_{name}{suffix}"
    for level in LEVELS
    for name in LEVEL_METRICS
    for suffix in ("", "_low", "_high")
)
#: compare_embedders.py: one row per embedder
COMPARISON = Table(
    "comparison.tsv",
    (
        "embedder",
        "dimension",
        *[f"{name}{suffix}" for name in METRIC_NAMES for suffix in ("", "_low", "_high")],
        *SPEED_COLUMNS,
        "speedup",
        "speedup_low",
        "speedup_high",
        *PAIRED_COLUMNS,
        *LEVEL_COLUMNS,
        "hours_per_million_reads",
        "needed_test_frames",
        "verdict",
        "verdict_reason",
    ),
    "a comparison table",
)
