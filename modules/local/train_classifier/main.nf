process TRAIN_CLASSIFIER {
    tag "${embedder}"
    label 'process_medium'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // DNA and protein features of every shard for ONE protein embedder, joined
    // as they are read (or merged files; sorted by shard name, so that -resume
    // finds the task again); a subfolder keeps them apart
    tuple val(embedder), path(features, arity: '1..*', stageAs: 'features/*')
    // Frame lists of the split (SPLIT_DATASET): frame_id and label columns
    path(train)
    path(validation)

    output:
    // Checkpoint folder: model.safetensors, classifier.json, training_log.tsv
    tuple val(embedder), path("*_classifier", type: 'dir')    , emit: model
    tuple val(embedder), path("*_classifier/training_log.tsv"), emit: log
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python
    tuple val("${task.process}"), val('torch'), eval('software_version.py torch'), topic: versions, emit: versions_torch

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${embedder}"
    def feature_args = features.collect { feature -> "--features '${feature}'" }.join(' ')
    """
    train_classifier.py \\
        --threads '${task.cpus}' \\
        ${feature_args} \\
        --train '${train}' \\
        --validation '${validation}' \\
        --output-dir '${prefix}_classifier' \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${embedder}"
    """
    mkdir ${prefix}_classifier
    touch ${prefix}_classifier/model.safetensors
    touch ${prefix}_classifier/classifier.json
    touch ${prefix}_classifier/training_log.tsv
    """
}
