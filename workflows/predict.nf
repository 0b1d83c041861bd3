/*
 * predict: chunk the input sequences, keep their stop-free frames, write the
 * frames into shards (one item per shard), then embed each shard (DNA once,
 * protein per embedder) and merge the features.
 */

include { CHUNK_SEQUENCES  } from '../modules/local/chunk_sequences/main'
include { SELECT_FRAMES    } from '../modules/local/select_frames/main'
include { FRAMES_TO_SHARDS } from '../subworkflows/local/frames_to_shards/main'
include { EMBED_AND_MERGE  } from '../subworkflows/local/embed_and_merge/main'

workflow PREDICT {
    take:
    samples    // channel: [ val(meta), path(fasta) ]
    dna_model  // string: registered DNA embedder
    embedders  // list of strings: registered protein embedders (the classifier's)
    models_dir // path or null: folder of model folders named after the embedders
    hf_home    // path, value channel or []: model cache; [] uses $HF_HOME

    main:
    CHUNK_SEQUENCES(samples)
    SELECT_FRAMES(CHUNK_SEQUENCES.out.chunks)
    FRAMES_TO_SHARDS(SELECT_FRAMES.out.frames, [])
    EMBED_AND_MERGE(FRAMES_TO_SHARDS.out.shards, dna_model, embedders, models_dir, hf_home)

    emit:
    shards           = FRAMES_TO_SHARDS.out.shards // channel: [ val(meta + [shard: name]), path(nucleotide), path(protein) ]
    frames_report    = SELECT_FRAMES.out.report    // channel: [ val(meta), path(frames.tsv) ]
    features         = EMBED_AND_MERGE.out.merged  // channel: [ val(meta + [shard: name]), val(embedder), path(merged.safetensors) ]
    dna_features     = EMBED_AND_MERGE.out.dna     // channel: [ val(meta + [shard: name]), path(dna.safetensors) ]
    protein_features = EMBED_AND_MERGE.out.protein // channel: [ val(meta + [shard: name]), val(embedder), path(protein.safetensors) ]
    versions         = CHUNK_SEQUENCES.out.versions.mix(SELECT_FRAMES.out.versions, FRAMES_TO_SHARDS.out.versions, EMBED_AND_MERGE.out.versions)
}
