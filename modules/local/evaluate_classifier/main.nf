process EVALUATE_CLASSIFIER {
    tag "${embedder}"
    label 'process_low'

    input:
    // A checkpoint (TRAIN_CLASSIFIER) and the merged features of every shard of
    // the same embedder; a subfolder keeps the features apart from the outputs
    tuple val(embedder), path(model), path(features, arity: '1..*', stageAs: 'features/*')
    // Frames of the test set (SPLIT_DATASET test.tsv), the same for every embedder
    path(test)

    output:
    // One folder per embedder: every embedder's files are named alike
    tuple val(embedder), path("*/evaluation.json")     , emit: evaluation
    tuple val(embedder), path("*/test_predictions.tsv"), emit: predictions
    path "versions.yml"                                , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${embedder}"
    def feature_args = features.collect { merged -> "--features '${merged}'" }.join(' ')
    """
    evaluate_classifier.py \\
        --model '${model}' \\
        ${feature_args} \\
        --test '${test}' \\
        --output-dir '${prefix}' \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(evaluate_classifier.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${embedder}"
    """
    mkdir ${prefix}
    touch ${prefix}/evaluation.json
    touch ${prefix}/test_predictions.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(evaluate_classifier.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
