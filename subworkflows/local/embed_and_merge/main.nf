/*
 * Embed every shard and pair its features: the DNA model runs once per shard
 * and its features are shared by every protein embedder; each protein
 * embedder runs as its own tasks. Each shard's DNA features are then paired
 * with each embedder's protein features of that shard: the merge is a view,
 * joined in memory by the step that reads a shard (classify, train, evaluate),
 * so no merged copy of both files is written.
 *
 * Embedding tasks take groups of up to `shards_per_task` shards of one sample
 * (in shard order, so that -resume finds the same groups again) and load their
 * model once per group; each shard still gets its own feature file.
 */

include { EMBED_DNA     } from '../../../modules/local/embed_dna/main'
include { EMBED_PROTEIN } from '../../../modules/local/embed_protein/main'

workflow EMBED_AND_MERGE {
    take:
    shards          // channel: [ val(meta + [shard: name, shard_index: i, shard_count: n]), path(nucleotide), path(protein) ]
    dna_model       // string: registered DNA embedder, e.g. 'dnabert_s'
    embedders       // list of strings: registered protein embedders, e.g. ['esm2_3b', 'fastesm2_650']
    models_dir      // path or null: folder of model folders named after the embedders; null loads every model from the cache
    hf_home         // path, value channel or []: model cache filled by MODEL_CACHE; [] uses $HF_HOME
    chunk_size      // integer: chunk length the frames were cut with (recorded in the features)
    shards_per_task // integer: most shards one embedding task embeds with one model load

    main:
    // Groups of consecutive shards of a sample; groupKey carries each group's
    // size (known from the sample's shard count), so a group starts as soon as
    // its own shards are written
    groups = shards
        .map { meta, nucleotide, protein ->
            def group = meta.shard_index.intdiv(shards_per_task)
            def size = Math.min(shards_per_task, meta.shard_count - group * shards_per_task)
            [groupKey([meta.id, group], size), meta, nucleotide, protein]
        }
        .groupTuple()
        .map { _key, metas, nucleotides, proteins ->
            def order = (0..<metas.size()).toSorted { index -> metas[index].shard_index }
            [order.collect { index -> metas[index] }, order.collect { index -> nucleotides[index] }, order.collect { index -> proteins[index] }]
        }

    // DNA: one task per group of shards
    EMBED_DNA(
        groups.map { metas, nucleotides, _proteins -> [metas, nucleotides] },
        dna_model,
        modelFolder(models_dir, dna_model),
        hf_home,
        chunk_size
    )

    // Protein: one task per group of shards x embedder
    protein_embedders = channel.fromList(embedders)
        .map { embedder -> [embedder, modelFolder(models_dir, embedder)] }
    EMBED_PROTEIN(
        groups
            .map { metas, _nucleotides, proteins -> [metas, proteins] }
            .combine(protein_embedders),
        hf_home,
        chunk_size
    )

    // Back to one item per shard: each file is named after its shard
    dna_features = EMBED_DNA.out.features
        .flatMap { metas, files -> shardFiles(metas, files) }
    protein_features = EMBED_PROTEIN.out.features
        .flatMap { metas, embedder, files -> shardFiles(metas, files).collect { meta, feature -> [meta, embedder, feature] } }

    // Pair: each shard's DNA features with each embedder's protein features of
    // that shard, matched on (sample id, shard, embedder). A doubled partner stops
    // the run. A missing one only follows a failed embedding task, which stops the
    // run with its own error (failOnMismatch would report the join instead, last);
    // CLASSIFY, train and evaluate refuse features that miss a shard's frames.
    dna_per_embedder = dna_features
        .combine(channel.fromList(embedders))
        .map { meta, dna, embedder -> [[meta.id, meta.shard, embedder], meta, dna] }
    protein_by_key = protein_features
        .map { meta, embedder, protein -> [[meta.id, meta.shard, embedder], protein] }
    merged = dna_per_embedder
        .join(protein_by_key, failOnDuplicate: true)
        .map { key, meta, dna, protein -> [meta, key[2], [dna, protein]] }

    emit:
    merged  = merged                      // channel: [ val(meta), val(embedder), [ path(dna.safetensors), path(protein.safetensors) ] ]
    dna     = dna_features                // channel: [ val(meta), path(dna.safetensors) ]
    protein = protein_features            // channel: [ val(meta), val(embedder), path(protein.safetensors) ]
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

// [meta, file] for each shard of a group: the file whose name starts with the
// shard's name (shard names end in a fixed-width number, so none is another's prefix)
def shardFiles(metas, files) {
    return metas.collect { meta ->
        def found = files.findAll { feature -> feature.name.startsWith("${meta.shard}.") }
        if (found.size() != 1) {
            error("An embedding task wrote ${found.size()} feature files for shard ${meta.shard} (expected 1): ${files*.name.join(', ')}")
        }
        [meta, found[0]]
    }
}
