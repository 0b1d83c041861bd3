#!/usr/bin/env bash
# Run every step on the bundled test data (assets/test) with the virnucpro
# command line, writing into demo/ (or the folder given as $1): predict mode one
# step at a time with the bundled demo classifier (model-free composition
# features: its calls show the outputs, not evidence), then the compare chain
# (scripts/compare_chain.py) on every real genome of assets/test_full with the
# tiny random test models (the numbers test the machinery, not the embedders).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo}
data=assets/test
classifier=assets/models/composition_classifier
mkdir -p "$out"

echo "== predict: chunk -> frames -> shards"
virnucpro chunk-sequences --input "$data/mixed_example.fasta" --output "$out/mixed_example.chunks.fasta" --chunk-size 300
virnucpro select-frames --input "$out/mixed_example.chunks.fasta" \
    --nucleotide "$out/mixed_example.nucleotide.fasta" --protein "$out/mixed_example.protein.fasta" \
    --report "$out/mixed_example.frames.tsv"
virnucpro shard-frames --nucleotide "$out/mixed_example.nucleotide.fasta" --protein "$out/mixed_example.protein.fasta" \
    --output-dir "$out/predict_shards" --prefix mixed_example --frames-per-shard 200

echo "== predict: features of every shard with the demo classifier's embedders (CPU), merged"
merged=()
for shard in "$out"/predict_shards/*.nucleotide.fasta; do
    name=$(basename "$shard" .nucleotide.fasta)
    virnucpro embed-dna --embedder dna_composition --input "$shard" --output "$out/features/$name.dna.safetensors" \
        --chunk-size 300 --precision fp32 --device cpu
    virnucpro embed-protein --embedder aa_composition --input "$out/predict_shards/$name.protein.fasta" \
        --output "$out/features/$name.protein.safetensors" --chunk-size 300 --precision fp32 --device cpu
    virnucpro merge-features --dna "$out/features/$name.dna.safetensors" \
        --protein "$out/features/$name.protein.safetensors" --output "$out/features/$name.merged.safetensors"
    merged+=(--features "$out/features/$name.merged.safetensors")
done

echo "== predict: classify -> per-frame, per-chunk and per-sequence tables -> HTML summary"
virnucpro classify --classifier "$classifier" "${merged[@]}" --report "$out/mixed_example.frames.tsv" \
    --sequences "$data/mixed_example.fasta" --output-dir "$out/predictions" --prefix mixed_example
virnucpro prediction-report --chunk-calls "$out/predictions/mixed_example.chunk_calls.tsv" \
    --sequence-calls "$out/predictions/mixed_example.sequence_calls.tsv" --classifier "$classifier" \
    --output "$out/predictions/report.html"

echo "== compare (random test models): training set -> cluster split -> shards -> embed -> train -> evaluate -> benchmark -> compare"
python3 scripts/compare_chain.py --samplesheet assets/test_full/samplesheet.csv --workdir "$out/compare" \
    --embedders tiny_esm2,tiny_fastesm2,aa_composition --dna-model tiny_dnabert_s --baseline tiny_esm2 \
    --bootstrap 200

echo
echo "== done: outputs in $out/"
echo "-- chunks without a stop-free frame: $(grep -c no_frame "$out/mixed_example.frames.tsv") of $(($(wc -l < "$out/mixed_example.frames.tsv") - 1))"
echo "-- sequences called virus: $(awk -F'\t' 'NR > 1 && $6 == "virus"' "$out/predictions/mixed_example.sequence_calls.tsv" | wc -l) of $(($(wc -l < "$out/predictions/mixed_example.sequence_calls.tsv") - 1)) ($out/predictions/report.html)"
echo "-- split summary ($out/compare/split/summary.tsv):"
column -t "$out/compare/split/summary.tsv"
echo "-- decision ($out/compare/comparison/report.html):"
sed -n '/^## Decision/,/^## Accuracy/p' "$out/compare/comparison/comparison.md" | grep '^- '
