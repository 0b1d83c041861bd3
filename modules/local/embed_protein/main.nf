process EMBED_PROTEIN {
    tag "${meta.shard ?: meta.id} ${embedder}"
    label 'process_gpu'

    // Exit status 75: out of GPU memory (one sequence alone, or a model next to
    // another process). conf/base.config retries it; conf/modules.config halves
    // the --token-budget on each attempt.

    input:
    // One task per shard x embedder; model_dir is an optional model folder
    // (staged, so containers see it), [] loads the embedder from the cache
    tuple val(meta), path(protein), val(embedder), path(model_dir)
    // Optional Hugging Face cache filled by MODEL_CACHE (staged); [] uses $HF_HOME
    path(hf_home)

    output:
    // The embedder is part of the name: one embedder's features never overwrite another's
    tuple val(meta), val(embedder), path("*.safetensors"), emit: features
    path "versions.yml"                                  , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.shard ?: meta.id}"
    def model_dir_arg = model_dir ? "--model-dir '${model_dir}'" : ''
    def hf_home_arg = hf_home ? "--hf-home '${hf_home}'" : ''
    """
    embed_protein.py \\
        --input '${protein}' \\
        --output '${prefix}.${embedder}.protein.safetensors' \\
        --embedder '${embedder}' \\
        ${model_dir_arg} \\
        ${hf_home_arg} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(embed_protein.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.shard ?: meta.id}"
    """
    touch ${prefix}.${embedder}.protein.safetensors

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(embed_protein.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
