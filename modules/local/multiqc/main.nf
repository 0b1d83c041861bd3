process MULTIQC {
    tag "${content.size()} files"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // The steps' MultiQC custom content (virnucpro_calls_mqc.tsv of PREDICTION_REPORT;
    // virnucpro_comparison_mqc.tsv and virnucpro_verdicts_mqc.html of
    // COMPARE_EMBEDDERS) and the software versions (*_mqc_versions.yml), collected
    path(content, arity: '1..*', stageAs: 'content/*')
    // MultiQC config: assets/multiqc_config.yml
    path(config)

    output:
    path "multiqc_report.html", emit: report
    path "multiqc_data"       , emit: data
    // Not on the versions topic: this step reads the versions the topic collects, so
    // a version it sent there would keep the topic open, and the run waiting, forever
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
