process SHARD_FRAMES {
    tag "${meta.id}"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // nucleotide and protein hold one or more FASTA files in matching order;
    // subfolders keep files with equal names from clashing
    tuple val(meta), path(nucleotide, arity: '1..*', stageAs: 'nucleotide/*'), path(protein, arity: '1..*', stageAs: 'protein/*')
    // Optional id lists (TSV with a frame_id column) that restrict the frames kept; [] for none
    path(ids, arity: '0..*', stageAs: 'ids/*')

    output:
    // No shard when no frame is left (e.g. every chunk is no_frame): the frames report still lists them
    tuple val(meta), path("shards/*.nucleotide.fasta", arity: '1..*'), path("shards/*.protein.fasta", arity: '1..*'), emit: shards, optional: true
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python
    tuple val("${task.process}"), val('biopython'), eval('software_version.py biopython'), topic: versions, emit: versions_biopython

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def nucleotide_args = nucleotide.collect { fasta -> "--nucleotide '${fasta}'" }.join(' ')
    def protein_args = protein.collect { fasta -> "--protein '${fasta}'" }.join(' ')
    def ids_args = ids.collect { table -> "--ids '${table}'" }.join(' ')
    """
    shard_frames.py \\
        --threads '${task.cpus}' \\
        ${nucleotide_args} \\
        ${protein_args} \\
        ${ids_args} \\
        --output-dir shards \\
        --prefix '${prefix}' \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir shards
    touch shards/${prefix}_00001.nucleotide.fasta
    touch shards/${prefix}_00001.protein.fasta
    """
}
