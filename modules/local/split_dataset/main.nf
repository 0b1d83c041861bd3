process SPLIT_DATASET {
    tag "${sources.size()} sources"
    label 'process_single'

    input:
    // Every sample's sources table; a subfolder keeps their names apart from the outputs
    path(sources, arity: '1..*', stageAs: 'sources/*')

    output:
    path "split/train.tsv"     , emit: train
    path "split/validation.tsv", emit: validation
    path "split/test.tsv"      , emit: test
    path "split/summary.tsv"   , emit: summary
    path "versions.yml"        , emit: versions

    script:
    def args = task.ext.args ?: ''
    def source_args = sources.collect { table -> "--sources '${table}'" }.join(' ')
    """
    split_dataset.py \\
        ${source_args} \\
        --output-dir split \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(split_dataset.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    """
    mkdir split
    touch split/train.tsv split/validation.tsv split/test.tsv split/summary.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(split_dataset.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
