process SPLIT_DATASET {
    tag "${sources.size()} sources"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // Every sample's sources table; a subfolder keeps their names apart from the outputs
    path(sources, arity: '1..*', stageAs: 'sources/*')
    // Every sample's sketches (BUILD_TRAINING_SET), with which similar genomes are clustered
    path(sketches, arity: '1..*', stageAs: 'sketches/*')

    output:
    path "split/train.tsv"     , emit: train
    path "split/validation.tsv", emit: validation
    path "split/test.tsv"      , emit: test
    path "split/summary.tsv"   , emit: summary
    path "split/clusters.tsv"  , emit: clusters
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def source_args = sources.collect { table -> "--sources '${table}'" }.join(' ')
    def sketch_args = sketches.collect { sketch -> "--sketches '${sketch}'" }.join(' ')
    """
    split_dataset.py \\
        --threads '${task.cpus}' \\
        ${source_args} \\
        ${sketch_args} \\
        --output-dir split \\
        ${args}
    """

    stub:
    """
    mkdir split
    touch split/train.tsv split/validation.tsv split/test.tsv split/summary.tsv split/clusters.tsv
    """
}
