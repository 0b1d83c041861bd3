process PREDICTION_REPORT {
    tag "${sequence_calls.size()} samples"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // {sample}.chunk_calls.tsv and {sample}.sequence_calls.tsv of every sample
    // (CLASSIFY), collected; a sample is named by its files, and needs both
    path(chunk_calls, arity: '1..*', stageAs: 'chunk_calls/*')
    path(sequence_calls, arity: '1..*', stageAs: 'sequence_calls/*')
    // The classifier checkpoint folder the tables were made with, for its name,
    // embedders, chunk size, models, id and demo caveat; [] to leave them out
    path(classifier, stageAs: 'classifier/*')

    output:
    path "report.html", emit: html
    // Each sample's counts as MultiQC custom content (the MULTIQC_REPORT step)
    path "virnucpro_calls_mqc.tsv", emit: multiqc
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def chunk_args = chunk_calls.collect { table -> "--chunk-calls '${table}'" }.join(' ')
    def sequence_args = sequence_calls.collect { table -> "--sequence-calls '${table}'" }.join(' ')
    def classifier_arg = classifier ? "--classifier '${classifier}'" : ''
    """
    prediction_report.py \\
        --threads '${task.cpus}' \\
        ${chunk_args} \\
        ${sequence_args} \\
        ${classifier_arg} \\
        --output report.html \\
        --multiqc \\
        ${args}
    """

    stub:
    """
    touch report.html
    touch virnucpro_calls_mqc.tsv
    """
}
