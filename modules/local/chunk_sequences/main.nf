process CHUNK_SEQUENCES {
    tag "${meta.id}"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    tuple val(meta), path(sequences)
    // Chunk length in bases (--chunk_size)
    val(chunk_size)

    output:
    tuple val(meta), path("*.chunks.fasta"), emit: chunks
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python
    tuple val("${task.process}"), val('biopython'), eval('software_version.py biopython'), topic: versions, emit: versions_biopython

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    chunk_sequences.py \\
        --threads '${task.cpus}' \\
        --input '${sequences}' \\
        --output '${prefix}.chunks.fasta' \\
        --chunk-size '${chunk_size}' \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.chunks.fasta
    """
}
