process MERGE_FEATURES {
    tag "${meta.shard ?: meta.id} ${embedder}"
    label 'process_single'

    input:
    // DNA and protein features of the same shard, protein from the embedder named
    tuple val(meta), val(embedder), path(dna), path(protein)

    output:
    tuple val(meta), val(embedder), path("*.merged.safetensors"), emit: features
    path "versions.yml"                                         , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.shard ?: meta.id}"
    """
    merge_features.py \\
        --dna '${dna}' \\
        --protein '${protein}' \\
        --output '${prefix}.${embedder}.merged.safetensors' \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(merge_features.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.shard ?: meta.id}"
    """
    touch ${prefix}.${embedder}.merged.safetensors

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(merge_features.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
