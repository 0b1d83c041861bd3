process SELECT_FRAMES {
    tag "${meta.id}"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    tuple val(meta), path(chunks)

    output:
    tuple val(meta), path("*.nucleotide.fasta"), path("*.protein.fasta"), emit: frames
    tuple val(meta), path("*.frames.tsv")                                , emit: report
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python
    tuple val("${task.process}"), val('biopython'), eval('software_version.py biopython'), topic: versions, emit: versions_biopython

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    select_frames.py \\
        --threads '${task.cpus}' \\
        --input '${chunks}' \\
        --nucleotide '${prefix}.nucleotide.fasta' \\
        --protein '${prefix}.protein.fasta' \\
        --report '${prefix}.frames.tsv' \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.nucleotide.fasta
    touch ${prefix}.protein.fasta
    touch ${prefix}.frames.tsv
    """
}
