process CLASSIFY {
    tag "${meta.id}"
    label 'process_low'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // One sample: a classifier checkpoint, the DNA and protein features of every
    // shard of the sample, joined as they are read (or merged files; from the
    // classifier's embedders; none for a sample without
    // any stop-free frame, which still gets its tables), its frames report(s)
    // (SELECT_FRAMES: every chunk, no_frame ones included) and its input FASTA
    // ([] to skip the FASTA of viral sequences). Subfolders keep the inputs
    // apart from the outputs.
    tuple val(meta), path(classifier), path(features, arity: '0..*', stageAs: 'features/*'), path(reports, arity: '1..*', stageAs: 'reports/*'), path(sequences, stageAs: 'input/*')

    output:
    tuple val(meta), path("*.frame_scores.tsv")  , emit: frame_scores
    tuple val(meta), path("*.chunk_calls.tsv")   , emit: chunk_calls
    tuple val(meta), path("*.sequence_calls.tsv"), emit: sequence_calls
    tuple val(meta), path("*.viral.fasta")       , emit: viral, optional: true
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python
    tuple val("${task.process}"), val('torch'), eval('software_version.py torch'), topic: versions, emit: versions_torch

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def feature_args = features.collect { feature -> "--features '${feature}'" }.join(' ')
    def report_args = reports.collect { report -> "--report '${report}'" }.join(' ')
    def sequences_arg = sequences ? "--sequences '${sequences}'" : ''
    """
    classify.py \\
        --threads '${task.cpus}' \\
        --classifier '${classifier}' \\
        ${feature_args} \\
        ${report_args} \\
        ${sequences_arg} \\
        --output-dir . \\
        --prefix '${prefix}' \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    def viral = sequences ? "touch ${prefix}.viral.fasta" : ''
    """
    touch ${prefix}.frame_scores.tsv
    touch ${prefix}.chunk_calls.tsv
    touch ${prefix}.sequence_calls.tsv
    ${viral}
    """
}
