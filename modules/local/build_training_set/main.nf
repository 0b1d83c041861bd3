process BUILD_TRAINING_SET {
    tag "${meta.id}"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // A GenBank genome (its annotated CDS) or a FASTA genome (.fa .fasta .fna .fas, optionally
    // .gz: its genes predicted with Pyrodigal / Pyrodigal-gv), told apart by the file name
    tuple val(meta), path(genbank)
    // Chunk length in bases (--chunk_size)
    val(chunk_size)

    output:
    tuple val(meta), path("*.nucleotide.fasta"), path("*.protein.fasta"), emit: frames
    tuple val(meta), path("*.sources.tsv")                               , emit: sources
    tuple val(meta), path("*.counts.tsv")                                , emit: counts
    tuple val(meta), path("*.sketches.safetensors")                      , emit: sketches
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python
    tuple val("${task.process}"), val('biopython'), eval('software_version.py biopython'), topic: versions, emit: versions_biopython
    // The gene finders of FASTA genomes
    tuple val("${task.process}"), val('pyrodigal'), eval('software_version.py pyrodigal'), topic: versions, emit: versions_pyrodigal
    tuple val("${task.process}"), val('pyrodigal-gv'), eval('software_version.py pyrodigal-gv'), topic: versions, emit: versions_pyrodigal_gv

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    build_training_set.py \\
        --threads '${task.cpus}' \\
        --genbank '${genbank}' \\
        --label '${meta.label}' \\
        --nucleotide '${prefix}.nucleotide.fasta' \\
        --protein '${prefix}.protein.fasta' \\
        --sources '${prefix}.sources.tsv' \\
        --counts '${prefix}.counts.tsv' \\
        --sketches '${prefix}.sketches.safetensors' \\
        --chunk-size '${chunk_size}' \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.nucleotide.fasta
    touch ${prefix}.protein.fasta
    touch ${prefix}.sources.tsv
    touch ${prefix}.counts.tsv
    touch ${prefix}.sketches.safetensors
    """
}
