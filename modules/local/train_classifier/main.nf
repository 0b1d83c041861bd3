process TRAIN_CLASSIFIER {
    tag "${embedder}"
    label 'process_medium'

    input:
    // Merged features of every shard for ONE protein embedder (sorted by shard
    // name, so that -resume finds the task again); a subfolder keeps them apart
    tuple val(embedder), path(features, arity: '1..*', stageAs: 'features/*')
    // Frame lists of the split (SPLIT_DATASET): frame_id and label columns
    path(train)
    path(validation)

    output:
    // Checkpoint folder: model.safetensors, classifier.json, training_log.tsv
    tuple val(embedder), path("*_classifier", type: 'dir')    , emit: model
    tuple val(embedder), path("*_classifier/training_log.tsv"), emit: log
    path "versions.yml"                                       , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${embedder}"
    def feature_args = features.collect { merged -> "--features '${merged}'" }.join(' ')
    """
    train_classifier.py \\
        ${feature_args} \\
        --train '${train}' \\
        --validation '${validation}' \\
        --output-dir '${prefix}_classifier' \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(train_classifier.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${embedder}"
    """
    mkdir ${prefix}_classifier
    touch ${prefix}_classifier/model.safetensors
    touch ${prefix}_classifier/classifier.json
    touch ${prefix}_classifier/training_log.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(train_classifier.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
