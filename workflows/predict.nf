/*
 * predict, preprocessing: chunk the input sequences, keep their stop-free
 * frames and write the frames into shards (one item per shard).
 */

include { CHUNK_SEQUENCES  } from '../modules/local/chunk_sequences/main'
include { SELECT_FRAMES    } from '../modules/local/select_frames/main'
include { FRAMES_TO_SHARDS } from '../subworkflows/local/frames_to_shards/main'

workflow PREDICT {
    take:
    samples // channel: [ val(meta), path(fasta) ]

    main:
    CHUNK_SEQUENCES(samples)
    SELECT_FRAMES(CHUNK_SEQUENCES.out.chunks)
    FRAMES_TO_SHARDS(SELECT_FRAMES.out.frames, [])

    emit:
    shards        = FRAMES_TO_SHARDS.out.shards // channel: [ val(meta + [shard: name]), path(nucleotide), path(protein) ]
    frames_report = SELECT_FRAMES.out.report    // channel: [ val(meta), path(frames.tsv) ]
    versions      = CHUNK_SEQUENCES.out.versions.mix(SELECT_FRAMES.out.versions, FRAMES_TO_SHARDS.out.versions)
}
