process EVALUATE_CLASSIFIER {
    tag "${embedder}"
    label 'process_low'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // A checkpoint (TRAIN_CLASSIFIER) and the DNA and protein features of every
    // shard of the same embedder (or merged files); a subfolder keeps the
    // features apart from the outputs
    tuple val(embedder), path(classifier), path(features, arity: '1..*', stageAs: 'features/*')
    // Frames of the test set (SPLIT_DATASET test.tsv), the same for every embedder
    path(test)

    output:
    // One folder per embedder: every embedder's files are named alike
    tuple val(embedder), path("*/evaluation.json")     , emit: evaluation
    tuple val(embedder), path("*/test_predictions.tsv"), emit: predictions
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python
    tuple val("${task.process}"), val('torch'), eval('software_version.py torch'), topic: versions, emit: versions_torch
    tuple val("${task.process}"), val('scikit-learn'), eval('software_version.py scikit-learn'), topic: versions, emit: versions_scikit_learn

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${embedder}"
    def feature_args = features.collect { feature -> "--features '${feature}'" }.join(' ')
    """
    evaluate_classifier.py \\
        --threads '${task.cpus}' \\
        --classifier '${classifier}' \\
        ${feature_args} \\
        --test '${test}' \\
        --output-dir '${prefix}' \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${embedder}"
    """
    mkdir ${prefix}
    touch ${prefix}/evaluation.json
    touch ${prefix}/test_predictions.tsv
    """
}
