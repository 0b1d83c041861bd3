process COMPARE_EMBEDDERS {
    tag "${evaluations.size()} embedders"
    label 'process_single'

    input:
    // evaluation.json of every embedder (EVALUATE_CLASSIFIER), collected; they
    // share a name, so each gets a numbered subfolder
    path(evaluations, arity: '1..*', stageAs: 'evaluations/?/*')
    // Benchmark JSON of every embedder (BENCHMARK_EMBEDDER), collected; [] for none
    path(benchmarks, arity: '0..*', stageAs: 'benchmarks/*')

    output:
    path "comparison.tsv", emit: tsv
    path "comparison.md" , emit: markdown
    path "report.html"   , emit: html
    path "versions.yml"  , emit: versions

    script:
    def args = task.ext.args ?: ''
    def evaluation_args = evaluations.collect { evaluation -> "--evaluation '${evaluation}'" }.join(' ')
    def benchmark_args = benchmarks.collect { benchmark -> "--benchmark '${benchmark}'" }.join(' ')
    """
    compare_embedders.py \\
        ${evaluation_args} \\
        ${benchmark_args} \\
        --output-dir . \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(compare_embedders.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    """
    touch comparison.tsv
    touch comparison.md
    touch report.html

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(compare_embedders.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
