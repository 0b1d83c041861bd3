/*
 * train: build labelled frames from GenBank genomes (annotated CDS) or FASTA genomes (genes predicted), split them into train /
 * validation / test sets (each cluster of similar genomes whole in one set),
 * write the frames of the three sets into shards (one item per shard), embed
 * each shard (DNA once, shared by every protein embedder; protein once per
 * embedder), merge the features, and train one classifier per protein
 * embedder on the features of all its shards.
 */

include { BUILD_TRAINING_SET } from '../modules/local/build_training_set/main'
include { SPLIT_DATASET      } from '../modules/local/split_dataset/main'
include { TRAIN_CLASSIFIER   } from '../modules/local/train_classifier/main'
include { FRAMES_TO_SHARDS   } from '../subworkflows/local/frames_to_shards/main'
include { EMBED_AND_MERGE    } from '../subworkflows/local/embed_and_merge/main'

workflow TRAIN {
    take:
    genomes    // channel: [ val(meta), path(genome) ], GenBank or FASTA; meta.label is 'viral' or 'host'
    dna_model  // string: registered DNA embedder
    embedders  // list of strings: registered protein embedders, one classifier each
    models_dir // path or null: folder of model folders named after the embedders
    hf_home    // path, value channel or []: model cache; [] uses $HF_HOME
    chunk_size // integer: chunk length in bases
    shards_per_task // integer: most shards an embedding task embeds with one model load

    main:
    labelled = genomes.map { meta, genbank ->
        if (!meta.label) {
            error("Sample '${meta.id}' has no label: in train and compare mode every samplesheet row needs a 'label' column set to 'viral' or 'host'")
        }
        [meta, genbank]
    }
    BUILD_TRAINING_SET(labelled, chunk_size)

    // Samples in id order, so that the split and the shards do not depend on
    // the order in which tasks finish (and -resume finds them again)
    sources = BUILD_TRAINING_SET.out.sources
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { samples -> samples.collect { sample -> sample[1] } }
    sketches = BUILD_TRAINING_SET.out.sketches
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { samples -> samples.collect { sample -> sample[1] } }
    SPLIT_DATASET(sources, sketches)

    all_frames = BUILD_TRAINING_SET.out.frames
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { samples -> [[id: 'training_set'], samples.collect { sample -> sample[1] }, samples.collect { sample -> sample[2] }] }
    split_ids = SPLIT_DATASET.out.train
        .concat(SPLIT_DATASET.out.validation, SPLIT_DATASET.out.test)
        .collect()
    FRAMES_TO_SHARDS(all_frames, split_ids)
    EMBED_AND_MERGE(FRAMES_TO_SHARDS.out.shards, dna_model, embedders, models_dir, hf_home, chunk_size, shards_per_task)

    // One classifier per protein embedder, on the DNA and protein features of
    // all its shards (each shard's pair joined as it is read); shards in name
    // order, so that -resume finds the task again. groupKey carries the shard
    // count: an embedder's classifier starts training as soon as its own shards
    // are embedded, not when every embedder's are.
    features_per_embedder = EMBED_AND_MERGE.out.merged
        .map { meta, embedder, merged -> [groupKey(embedder, meta.shard_count), [meta.shard, merged]] }
        .groupTuple()
        .map { embedder, shards -> [embedder.getGroupTarget(), shards.toSorted { a, b -> a[0] <=> b[0] }.collectMany { shard -> shard[1] }] }
    TRAIN_CLASSIFIER(features_per_embedder, SPLIT_DATASET.out.train, SPLIT_DATASET.out.validation)

    emit:
    classifiers         = TRAIN_CLASSIFIER.out.model    // channel: [ val(embedder), path({embedder}_classifier) ]
    training_logs       = TRAIN_CLASSIFIER.out.log      // channel: [ val(embedder), path(training_log.tsv) ]
    classifier_features = features_per_embedder         // channel: [ val(embedder), [ path(dna.safetensors), path(protein.safetensors), ... ] ], shards in name order
    shards              = FRAMES_TO_SHARDS.out.shards   // channel: [ val([id: 'training_set', shard: name, shard_index: i, shard_count: n]), path(nucleotide), path(protein) ]
    features            = EMBED_AND_MERGE.out.merged    // channel: [ val([id: 'training_set', shard: name, shard_index: i, shard_count: n]), val(embedder), [ path(dna.safetensors), path(protein.safetensors) ] ]
    dna_features        = EMBED_AND_MERGE.out.dna       // channel: [ val([id: 'training_set', shard: name, shard_index: i, shard_count: n]), path(dna.safetensors) ]
    protein_features    = EMBED_AND_MERGE.out.protein   // channel: [ val([id: 'training_set', shard: name, shard_index: i, shard_count: n]), val(embedder), path(protein.safetensors) ]
    train               = SPLIT_DATASET.out.train       // channel: path(train.tsv)
    validation          = SPLIT_DATASET.out.validation  // channel: path(validation.tsv)
    test                = SPLIT_DATASET.out.test        // channel: path(test.tsv)
    summary             = SPLIT_DATASET.out.summary     // channel: path(summary.tsv)
    clusters            = SPLIT_DATASET.out.clusters    // channel: path(clusters.tsv)
    counts              = BUILD_TRAINING_SET.out.counts // channel: [ val(meta), path(counts.tsv) ]
}
