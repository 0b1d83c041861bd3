/*
 * Embed every shard and merge its features: the DNA model runs once per shard
 * and its features are shared by every protein embedder (SPEC §3); each protein
 * embedder runs as its own task per shard; MERGE_FEATURES then concatenates
 * [DNA | protein] for each shard x embedder.
 */

include { EMBED_DNA      } from '../../../modules/local/embed_dna/main'
include { EMBED_PROTEIN  } from '../../../modules/local/embed_protein/main'
include { MERGE_FEATURES } from '../../../modules/local/merge_features/main'

workflow EMBED_AND_MERGE {
    take:
    shards     // channel: [ val(meta + [shard: name, shard_count: n]), path(nucleotide), path(protein) ]
    dna_model  // string: registered DNA embedder, e.g. 'dnabert_s'
    embedders  // list of strings: registered protein embedders, e.g. ['esm2_3b', 'fastesm2_650']
    models_dir // path or null: folder of model folders named after the embedders; null loads every model from the cache
    hf_home    // path, value channel or []: model cache filled by MODEL_CACHE; [] uses $HF_HOME
    chunk_size // integer: chunk length the frames were cut with (recorded in the features)

    main:
    // DNA: one task per shard
    EMBED_DNA(
        shards.map { meta, nucleotide, _protein -> [meta, nucleotide] },
        dna_model,
        modelFolder(models_dir, dna_model),
        hf_home,
        chunk_size
    )

    // Protein: one task per shard x embedder
    protein_embedders = channel.fromList(embedders)
        .map { embedder -> [embedder, modelFolder(models_dir, embedder)] }
    EMBED_PROTEIN(
        shards
            .map { meta, _nucleotide, protein -> [meta, protein] }
            .combine(protein_embedders),
        hf_home,
        chunk_size
    )

    // Merge: each shard's DNA features with each embedder's protein features of
    // that shard, matched on (sample id, shard, embedder); a missing or doubled
    // partner stops the run instead of being dropped silently
    dna_per_embedder = EMBED_DNA.out.features
        .combine(channel.fromList(embedders))
        .map { meta, dna, embedder -> [[meta.id, meta.shard, embedder], meta, dna] }
    protein_by_key = EMBED_PROTEIN.out.features
        .map { meta, embedder, protein -> [[meta.id, meta.shard, embedder], protein] }
    MERGE_FEATURES(
        dna_per_embedder
            .join(protein_by_key, failOnMismatch: true, failOnDuplicate: true)
            .map { key, meta, dna, protein -> [meta, key[2], dna, protein] }
    )

    emit:
    merged  = MERGE_FEATURES.out.features // channel: [ val(meta), val(embedder), path(merged.safetensors) ]
    dna     = EMBED_DNA.out.features      // channel: [ val(meta), path(dna.safetensors) ]
    protein = EMBED_PROTEIN.out.features  // channel: [ val(meta), val(embedder), path(protein.safetensors) ]
}

// The model folder of an embedder: models_dir/<name> when it exists (staged into
// the task, so that containers see it), else [] (the model is loaded by name)
def modelFolder(models_dir, name) {
    if (!models_dir) {
        return []
    }
    def folder = file("${models_dir}/${name}")
    return folder.isDirectory() ? folder : []
}
