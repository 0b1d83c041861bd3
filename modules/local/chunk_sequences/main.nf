process CHUNK_SEQUENCES {
    tag "${meta.id}"
    label 'process_single'

    input:
    tuple val(meta), path(sequences)

    output:
    tuple val(meta), path("*.chunks.fasta"), emit: chunks
    path "versions.yml"                    , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    chunk_sequences.py \\
        --input '${sequences}' \\
        --output '${prefix}.chunks.fasta' \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(chunk_sequences.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.chunks.fasta

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(chunk_sequences.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
