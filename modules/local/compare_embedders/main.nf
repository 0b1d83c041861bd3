process COMPARE_EMBEDDERS {
    tag "${evaluations.size()} embedders"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'

    input:
    // evaluation.json of every embedder (EVALUATE_CLASSIFIER), collected; they
    // share a name, so each gets a numbered subfolder
    path(evaluations, arity: '1..*', stageAs: 'evaluations/?/*')
    // test_predictions.tsv of every embedder, in the same order as the evaluations,
    // for the paired statistics against the baseline; [] for none
    path(predictions, arity: '0..*', stageAs: 'predictions/?/*')
    // Benchmark JSON of every embedder (BENCHMARK_EMBEDDER), collected; [] for none
    path(benchmarks, arity: '0..*', stageAs: 'benchmarks/*')
    // counts.tsv of every training-set input (BUILD_TRAINING_SET), for the frames
    // per read of the projected hours; [] for none
    path(counts, arity: '0..*', stageAs: 'counts/?/*')

    output:
    path "comparison.tsv", emit: tsv
    path "comparison.md" , emit: markdown
    path "report.html"   , emit: html
    // The table and the verdicts as MultiQC custom content (the MULTIQC_REPORT step)
    path "virnucpro_comparison_mqc.tsv", emit: multiqc_comparison
    path "virnucpro_verdicts_mqc.html" , emit: multiqc_verdicts
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def evaluation_args = evaluations.collect { evaluation -> "--evaluation '${evaluation}'" }.join(' ')
    def benchmark_args = benchmarks.collect { benchmark -> "--benchmark '${benchmark}'" }.join(' ')
    def prediction_args = predictions.collect { prediction -> "--predictions '${prediction}'" }.join(' ')
    def counts_args = counts.collect { table -> "--counts '${table}'" }.join(' ')
    """
    compare_embedders.py \\
        --threads '${task.cpus}' \\
        ${evaluation_args} \\
        ${benchmark_args} \\
        ${prediction_args} \\
        ${counts_args} \\
        --output-dir . \\
        --multiqc \\
        ${args}
    """

    stub:
    """
    touch comparison.tsv
    touch comparison.md
    touch report.html
    touch virnucpro_comparison_mqc.tsv
    touch virnucpro_verdicts_mqc.html
    """
}
