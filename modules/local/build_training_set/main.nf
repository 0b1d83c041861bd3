process BUILD_TRAINING_SET {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(genbank)

    output:
    tuple val(meta), path("*.nucleotide.fasta"), path("*.protein.fasta"), emit: frames
    tuple val(meta), path("*.sources.tsv")                               , emit: sources
    tuple val(meta), path("*.counts.tsv")                                , emit: counts
    path "versions.yml"                                                  , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    build_training_set.py \\
        --genbank '${genbank}' \\
        --label '${meta.label}' \\
        --nucleotide '${prefix}.nucleotide.fasta' \\
        --protein '${prefix}.protein.fasta' \\
        --sources '${prefix}.sources.tsv' \\
        --counts '${prefix}.counts.tsv' \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(build_training_set.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.nucleotide.fasta
    touch ${prefix}.protein.fasta
    touch ${prefix}.sources.tsv
    touch ${prefix}.counts.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(build_training_set.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
