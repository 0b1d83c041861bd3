process MULTIQC_REPORT {
    tag "${content.size()} files"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // The steps' MultiQC custom content (virnucpro_calls_mqc.tsv of PREDICTION_REPORT;
    // virnucpro_comparison_mqc.tsv and virnucpro_verdicts_mqc.html of
    // COMPARE_EMBEDDERS) and the software versions (virnucpro_software_mqc_versions
    // of PIPELINE_COMPLETION), collected
    path(content, arity: '1..*', stageAs: 'content/*')
    // MultiQC config: assets/multiqc_config.yml
    path(config)

    output:
    path "multiqc_report.html", emit: report
    path "multiqc_data"       , emit: data
    // Not sent to the versions channel topic: this step reads the versions it collects,
    // so a version sent there would keep it open, and the run waiting, forever
    tuple val("${task.process}"), val('multiqc'), eval('software_version.py multiqc'), emit: versions_multiqc

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def content_args = content.collect { item -> "--content '${item}'" }.join(' ')
    """
    multiqc_report.py \\
        --threads '${task.cpus}' \\
        ${content_args} \\
        --config '${config}' \\
        --output-dir . \\
        ${args}
    """

    stub:
    """
    touch multiqc_report.html
    mkdir multiqc_data
    """
}
