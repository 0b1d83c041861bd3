process SELECT_FRAMES {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(chunks)

    output:
    tuple val(meta), path("*.nucleotide.fasta"), path("*.protein.fasta"), emit: frames
    tuple val(meta), path("*.frames.tsv")                                , emit: report
    path "versions.yml"                                                  , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    select_frames.py \\
        --input '${chunks}' \\
        --nucleotide '${prefix}.nucleotide.fasta' \\
        --protein '${prefix}.protein.fasta' \\
        --report '${prefix}.frames.tsv' \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(select_frames.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.nucleotide.fasta
    touch ${prefix}.protein.fasta
    touch ${prefix}.frames.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(select_frames.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
