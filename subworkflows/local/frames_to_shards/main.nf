/*
 * Write frames into shards of at most N frames and emit one item per shard.
 * Each item's meta carries the shard's name, its index among its sample's
 * shards (in name order, from 0) and how many shards the sample has, so that a
 * later groupTuple (with groupKey) releases a group as soon as its own shards
 * are done.
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
        def ordered = nucleotides.toSorted { nucleotide -> nucleotide.name }
        ordered.withIndex().collect { nucleotide, index ->
            def shard = shardName(nucleotide)
            [meta + [shard: shard, shard_index: index, shard_count: ordered.size()], nucleotide, protein_by_shard[shard]]
        }
    }

    emit:
    shards = per_shard // channel: [ val(meta + [shard: name, shard_index: i, shard_count: n]), path(nucleotide), path(protein) ]
}

// Shard name: the file name without its .nucleotide.fasta or .protein.fasta suffix
def shardName(shard) {
    shard.name.replaceFirst(/\.(nucleotide|protein)\.fasta$/, '')
}
