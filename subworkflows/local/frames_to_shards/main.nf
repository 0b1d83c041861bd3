/*
 * Write frames into shards of at most N frames and emit one item per shard,
 * so that the steps after it run one task per shard.
 */

include { SHARD_FRAMES } from '../../../modules/local/shard_frames/main'

workflow FRAMES_TO_SHARDS {
    take:
    frames // channel: [ val(meta), path(nucleotide), path(protein) ]; one or more FASTA files each, in matching order
    ids    // list or value channel: id lists (TSV with a frame_id column) restricting the frames kept; [] keeps every frame

    main:
    SHARD_FRAMES(frames, ids)

    // Pair each nucleotide shard with the protein shard of the same name
    per_shard = SHARD_FRAMES.out.shards.flatMap { meta, nucleotides, proteins ->
        def protein_by_shard = proteins.collectEntries { protein -> [shardName(protein), protein] }
        nucleotides.collect { nucleotide ->
            def shard = shardName(nucleotide)
            [meta + [shard: shard], nucleotide, protein_by_shard[shard]]
        }
    }

    emit:
    shards   = per_shard                 // channel: [ val(meta + [shard: name]), path(nucleotide), path(protein) ]
    versions = SHARD_FRAMES.out.versions // channel: [ path(versions.yml) ]
}

// Shard name: the file name without its .nucleotide.fasta or .protein.fasta suffix
def shardName(shard) {
    shard.name.replaceFirst(/\.(nucleotide|protein)\.fasta$/, '')
}
