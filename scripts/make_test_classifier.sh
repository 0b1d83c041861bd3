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
