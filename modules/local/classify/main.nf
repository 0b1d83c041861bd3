process CLASSIFY {
    tag "${meta.id}"
    label 'process_low'

    input:
    // One sample: a classifier checkpoint, the merged features of every shard
    // of the sample (from the classifier's embedder; none for a sample without
    // any stop-free frame, which still gets its tables), its frames report(s)
    // (SELECT_FRAMES: every chunk, no_frame ones included) and its input FASTA
    // ([] to skip the FASTA of viral sequences). Subfolders keep the inputs
    // apart from the outputs, which share their names with the frames report.
    tuple val(meta), path(model), path(features, arity: '0..*', stageAs: 'features/*'), path(reports, arity: '1..*', stageAs: 'reports/*'), path(sequences, stageAs: 'input/*')

    output:
    tuple val(meta), path("*.frames.tsv")   , emit: frames
    tuple val(meta), path("*.chunks.tsv")   , emit: chunks
    tuple val(meta), path("*.sequences.tsv"), emit: sequences
    tuple val(meta), path("*.viral.fasta")  , emit: viral, optional: true
    path "versions.yml"                     , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    def feature_args = features.collect { merged -> "--features '${merged}'" }.join(' ')
    def report_args = reports.collect { report -> "--report '${report}'" }.join(' ')
    def sequences_arg = sequences ? "--sequences '${sequences}'" : ''
    """
    predict.py \\
        --model '${model}' \\
        ${feature_args} \\
        ${report_args} \\
        ${sequences_arg} \\
        --output-dir . \\
        --prefix '${prefix}' \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(predict.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    def viral = sequences ? "touch ${prefix}.viral.fasta" : ''
    """
    touch ${prefix}.frames.tsv
    touch ${prefix}.chunks.tsv
    touch ${prefix}.sequences.tsv
    ${viral}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(predict.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
