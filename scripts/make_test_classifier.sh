#!/usr/bin/env bash
# Train the bundled demo classifier assets/models/composition_classifier: the
# pipeline's train chain on the bundled genomes (assets/test/samplesheet_train.csv)
# with the model-free baselines dna_composition + aa_composition, on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-assets/models/composition_classifier}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sources=() nucleotides=() proteins=()
while IFS=, read -r sample file label; do
    [ "$sample" = sample ] && continue
    build_training_set.py --genbank "assets/test/$file" --label "$label" --chunk-size 300 \
        --nucleotide "$work/$sample.nt.fasta" --protein "$work/$sample.aa.fasta" --sources "$work/$sample.sources.tsv"
    sources+=(--sources "$work/$sample.sources.tsv")
    nucleotides+=(--nucleotide "$work/$sample.nt.fasta")
    proteins+=(--protein "$work/$sample.aa.fasta")
done < assets/test/samplesheet_train.csv
split_dataset.py "${sources[@]}" --output-dir "$work/split" --seed 42 --group-by genome
shard_frames.py "${nucleotides[@]}" "${proteins[@]}" --ids "$work/split/train.tsv" --ids "$work/split/validation.tsv" \
    --output-dir "$work/shards" --prefix train --frames-per-shard 100000
embed_dna.py --embedder dna_composition --input "$work/shards/train_00001.nucleotide.fasta" \
    --output "$work/dna.safetensors" --chunk-size 300 --precision fp32 --device cpu
embed_protein.py --embedder aa_composition --input "$work/shards/train_00001.protein.fasta" \
    --output "$work/protein.safetensors" --chunk-size 300 --precision fp32 --device cpu
merge_features.py --dna "$work/dna.safetensors" --protein "$work/protein.safetensors" --output "$work/merged.safetensors"
train_classifier.py --features "$work/merged.safetensors" --train "$work/split/train.tsv" \
    --validation "$work/split/validation.tsv" --output-dir "$out" --seed 42
# Mark it as the demo it is, in classifier.json: classify.py and virnucpro predict warn,
# the prediction report shows it as a caveat (tests/test_prediction_provenance.py runs
# this step on the bundled classifier.json)
python3 - "$out/classifier.json" <<'PY'
import json
import sys

path = sys.argv[1]
with open(path, encoding="utf-8") as handle:
    config = json.load(handle)
embedders, accuracy = config["embedders"], config["metrics"]["validation_accuracy"]
config["demo"] = (
    f"model-free composition demo ({embedders['dna']} + {embedders['protein']}), validation "
    f"accuracy {accuracy:.2f}: for trying the pipeline, not for real calls"
)
with open(path, "w", encoding="utf-8") as handle:
    handle.write(json.dumps(config, indent=2, sort_keys=True) + "\n")
PY
