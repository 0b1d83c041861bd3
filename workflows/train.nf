/*
 * train, preprocessing: build labelled frames from GenBank genomes, split them
 * into train / validation / test sets, and write the frames of the three sets
 * into shards (one item per shard).
 */

include { BUILD_TRAINING_SET } from '../modules/local/build_training_set/main'
include { SPLIT_DATASET      } from '../modules/local/split_dataset/main'
include { FRAMES_TO_SHARDS   } from '../subworkflows/local/frames_to_shards/main'

workflow TRAIN {
    take:
    genomes // channel: [ val(meta), path(genbank) ]; meta.label is 'viral' or 'host'

    main:
    labelled = genomes.map { meta, genbank ->
        if (!meta.label) {
            error("Sample '${meta.id}' has no label: in train mode every samplesheet row needs a 'label' column set to 'viral' or 'host'")
        }
        [meta, genbank]
    }
    BUILD_TRAINING_SET(labelled)

    // Samples in id order, so that the split and the shards do not depend on
    // the order in which tasks finish (and -resume finds them again)
    sources = BUILD_TRAINING_SET.out.sources
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { samples -> samples.collect { sample -> sample[1] } }
    SPLIT_DATASET(sources)

    all_frames = BUILD_TRAINING_SET.out.frames
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { samples -> [[id: 'training_set'], samples.collect { sample -> sample[1] }, samples.collect { sample -> sample[2] }] }
    split_ids = SPLIT_DATASET.out.train
        .concat(SPLIT_DATASET.out.validation, SPLIT_DATASET.out.test)
        .collect()
    FRAMES_TO_SHARDS(all_frames, split_ids)

    emit:
    shards     = FRAMES_TO_SHARDS.out.shards     // channel: [ val([id: 'training_set', shard: name]), path(nucleotide), path(protein) ]
    train      = SPLIT_DATASET.out.train         // channel: path(train.tsv)
    validation = SPLIT_DATASET.out.validation    // channel: path(validation.tsv)
    test       = SPLIT_DATASET.out.test          // channel: path(test.tsv)
    summary    = SPLIT_DATASET.out.summary       // channel: path(summary.tsv)
    counts     = BUILD_TRAINING_SET.out.counts   // channel: [ val(meta), path(counts.tsv) ]
    versions   = BUILD_TRAINING_SET.out.versions.mix(SPLIT_DATASET.out.versions, FRAMES_TO_SHARDS.out.versions)
}
