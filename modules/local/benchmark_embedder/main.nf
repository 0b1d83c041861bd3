process BENCHMARK_EMBEDDER {
    tag "${embedder}"
    label 'process_gpu'

    input:
    // One task per embedder; model_dir is an optional model folder (staged, so
    // containers see it), [] loads the embedder from the cache
    tuple val(embedder), path(model_dir)
    // The frames to embed, the same file for every embedder compared (protein
    // FASTA for protein embedders); a subfolder keeps it apart from the output
    path(input_fasta, stageAs: 'input/*')
    // Optional Hugging Face cache filled by MODEL_CACHE (staged); [] uses $HF_HOME
    path(hf_home)

    output:
    tuple val(embedder), path("*.benchmark.json"), emit: benchmark
    path "versions.yml"                          , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${embedder}"
    def model_dir_arg = model_dir ? "--model-dir '${model_dir}'" : ''
    def hf_home_arg = hf_home ? "--hf-home '${hf_home}'" : ''
    """
    benchmark_embedder.py \\
        --embedder '${embedder}' \\
        --input '${input_fasta}' \\
        --output '${prefix}.benchmark.json' \\
        ${model_dir_arg} \\
        ${hf_home_arg} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(benchmark_embedder.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${embedder}"
    """
    touch ${prefix}.benchmark.json

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(benchmark_embedder.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
