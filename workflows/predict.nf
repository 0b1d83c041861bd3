/*
 * predict: chunk the input sequences, keep their stop-free frames, write the
 * frames into shards (one item per shard), embed each shard (DNA once, protein
 * with the classifier's embedder), merge the features, then classify each
 * sample with all its shards: per-frame scores, per-chunk and per-sequence
 * calls and the FASTA of the sequences called viral; last, one HTML summary of
 * every sample's calls.
 */

include { CHUNK_SEQUENCES   } from '../modules/local/chunk_sequences/main'
include { SELECT_FRAMES     } from '../modules/local/select_frames/main'
include { CLASSIFY          } from '../modules/local/classify/main'
include { PREDICTION_REPORT } from '../modules/local/prediction_report/main'
include { FRAMES_TO_SHARDS  } from '../subworkflows/local/frames_to_shards/main'
include { EMBED_AND_MERGE   } from '../subworkflows/local/embed_and_merge/main'

workflow PREDICT {
    take:
    samples    // channel: [ val(meta), path(fasta) ]
    dna_model  // string: registered DNA embedder (the classifier's)
    embedders  // list of strings: the one protein embedder the classifier was trained with
    models_dir // path or null: folder of model folders named after the embedders
    hf_home    // path, value channel or []: model cache; [] uses $HF_HOME
    classifier // path: classifier checkpoint folder (model.safetensors, classifier.json)
    chunk_size // integer: chunk length in bases (the classifier's)
    shards_per_task // integer: most shards an embedding task embeds with one model load

    main:
    CHUNK_SEQUENCES(samples, chunk_size)
    SELECT_FRAMES(CHUNK_SEQUENCES.out.chunks)
    FRAMES_TO_SHARDS(SELECT_FRAMES.out.frames, [])
    EMBED_AND_MERGE(FRAMES_TO_SHARDS.out.shards, dna_model, embedders, models_dir, hf_home, chunk_size, shards_per_task)

    // The DNA and protein features of all shards of a sample, in shard name
    // order (so that -resume finds the task again); CLASSIFY joins each shard's
    // pair as it reads it. groupKey carries the sample's shard count, so a
    // sample moves on to CLASSIFY as soon as its own shards are embedded,
    // without waiting for the other samples.
    features_per_sample = EMBED_AND_MERGE.out.merged
        .map { meta, _embedder, merged -> [groupKey(meta.id, meta.shard_count), [meta.shard, merged]] }
        .groupTuple()
        .map { id, shards -> [id.getGroupTarget(), shards.toSorted { a, b -> a[0] <=> b[0] }.collectMany { shard -> shard[1] }] }

    // Each sample with its frames report (every chunk, no_frame and too_short
    // ones included) and its input FASTA. A sample without any stop-free frame
    // has no shard, hence no features: it is classified with none, so that each
    // of its sequences still gets a row in the tables. A sample missing on one
    // side only follows a failed task, whose own error then ends the run (a
    // failOnMismatch join would print the mismatch last instead).
    reports = SELECT_FRAMES.out.report.map { meta, report -> [meta.id, meta, report] }
    inputs = samples.map { meta, fasta -> [meta.id, fasta] }
    to_classify = reports
        .join(inputs, failOnDuplicate: true)
        .join(features_per_sample, remainder: true)
        .map { _id, meta, report, fasta, features -> [meta, classifier, features ?: [], report, fasta] }
    CLASSIFY(to_classify)

    // One summary of the run: every sample's chunk and sequence calls, in
    // sample id order (so that -resume finds the task again), with the
    // classifier they were made with
    all_chunk_calls = CLASSIFY.out.chunk_calls
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { items -> items.collect { item -> item[1] } }
    all_sequence_calls = CLASSIFY.out.sequence_calls
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { items -> items.collect { item -> item[1] } }
    PREDICTION_REPORT(all_chunk_calls, all_sequence_calls, classifier)

    emit:
    frame_scores     = CLASSIFY.out.frame_scores      // channel: [ val(meta), path(frame_scores.tsv) ]: score per frame
    chunk_calls      = CLASSIFY.out.chunk_calls       // channel: [ val(meta), path(chunk_calls.tsv) ]: call per chunk, no_frame included
    sequence_calls   = CLASSIFY.out.sequence_calls    // channel: [ val(meta), path(sequence_calls.tsv) ]: call per input sequence
    viral            = CLASSIFY.out.viral             // channel: [ val(meta), path(viral.fasta) ]
    report           = PREDICTION_REPORT.out.html     // channel: path(report.html): HTML summary of every sample's calls
    multiqc          = PREDICTION_REPORT.out.multiqc  // channel: path(virnucpro_calls_mqc.tsv): each sample's counts for the MultiQC report
    shards           = FRAMES_TO_SHARDS.out.shards    // channel: [ val(meta + [shard: name, shard_index: i, shard_count: n]), path(nucleotide), path(protein) ]
    frames_report    = SELECT_FRAMES.out.report       // channel: [ val(meta), path(frames.tsv) ]
    features         = EMBED_AND_MERGE.out.merged     // channel: [ val(meta + [shard: name, shard_index: i, shard_count: n]), val(embedder), [ path(dna.safetensors), path(protein.safetensors) ] ]
    dna_features     = EMBED_AND_MERGE.out.dna        // channel: [ val(meta + [shard: name, shard_index: i, shard_count: n]), path(dna.safetensors) ]
    protein_features = EMBED_AND_MERGE.out.protein    // channel: [ val(meta + [shard: name, shard_index: i, shard_count: n]), val(embedder), path(protein.safetensors) ]
}
