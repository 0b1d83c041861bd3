#!/usr/bin/env bash
# Run every available step on the bundled test data (assets/test) with the
# virnucpro command line, writing into demo/ (or the folder given as $1).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo}
data=assets/test
mkdir -p "$out"

echo "== predict side: chunk -> frames -> shards"
virnucpro chunk --input "$data/mixed_example.fasta" --output "$out/mixed_example.chunks.fasta" --chunk-size 300
virnucpro frames --input "$out/mixed_example.chunks.fasta" \
    --nucleotide "$out/mixed_example.nucleotide.fasta" --protein "$out/mixed_example.protein.fasta" \
    --report "$out/mixed_example.frames.tsv"
virnucpro shard --nucleotide "$out/mixed_example.nucleotide.fasta" --protein "$out/mixed_example.protein.fasta" \
    --output-dir "$out/predict_shards" --prefix mixed_example --frames-per-shard 200

echo "== features: DNA once per shard, each protein embedder, merged (tiny test models, CPU)"
for shard in "$out"/predict_shards/*.nucleotide.fasta; do
    name=$(basename "$shard" .nucleotide.fasta)
    virnucpro embed-dna --embedder tiny_dnabert_s --input "$shard" --output "$out/features/$name.tiny_dnabert_s.dna.safetensors" \
        --chunk-size 300 --precision fp32 --device cpu
    for embedder in tiny_esm2 aa_composition; do
        virnucpro embed-protein --embedder "$embedder" --input "$out/predict_shards/$name.protein.fasta" \
            --output "$out/features/$name.$embedder.protein.safetensors" --chunk-size 300 --precision fp32 --device cpu
        virnucpro merge --dna "$out/features/$name.tiny_dnabert_s.dna.safetensors" \
            --protein "$out/features/$name.$embedder.protein.safetensors" --output "$out/features/$name.$embedder.merged.safetensors"
    done
done

echo "== train side: training set -> split -> shards"
sources=() nucleotides=() proteins=()
while IFS=, read -r sample file label; do
    [ "$sample" = sample ] && continue
    virnucpro training-set --genbank "$data/$file" --label "$label" --chunk-size 300 \
        --nucleotide "$out/$sample.nucleotide.fasta" --protein "$out/$sample.protein.fasta" \
        --sources "$out/$sample.sources.tsv" --counts "$out/$sample.counts.tsv"
    sources+=(--sources "$out/$sample.sources.tsv")
    nucleotides+=(--nucleotide "$out/$sample.nucleotide.fasta")
    proteins+=(--protein "$out/$sample.protein.fasta")
done < "$data/samplesheet_train.csv"
virnucpro split "${sources[@]}" --output-dir "$out/split" --seed 42 --test-fraction 0.1 --val-fraction 0.1 --group-by genome
virnucpro shard "${nucleotides[@]}" "${proteins[@]}" \
    --ids "$out/split/train.tsv" --ids "$out/split/validation.tsv" --ids "$out/split/test.tsv" \
    --output-dir "$out/train_shards" --prefix train --frames-per-shard 200

echo
echo "== done: outputs in $out/"
echo "-- merged feature files: $(ls "$out"/features/*.merged.safetensors | wc -l) in $out/features/"
echo "-- chunks without a stop-free frame: $(grep -c no_frame "$out/mixed_example.frames.tsv") of $(($(wc -l < "$out/mixed_example.frames.tsv") - 1))"
echo "-- split summary ($out/split/summary.tsv):"
column -t "$out/split/summary.tsv"
