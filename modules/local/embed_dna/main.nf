process EMBED_DNA {
    tag "${meta.shard ?: meta.id} ${model}"
    label 'process_gpu'

    // Exit status 75: out of GPU memory (one sequence alone, or a model next to
    // another process). conf/base.config retries it; conf/modules.config halves
    // the --token-budget on each attempt.

    input:
    tuple val(meta), path(nucleotide)
    // Registered DNA embedder (dnabert_s, dna_composition, tiny_dnabert_s)
    val(model)
    // Optional model folder named after the embedder (staged, so containers see it); [] loads by name
    path(model_dir)
    // Optional Hugging Face cache filled by MODEL_CACHE (staged); [] uses $HF_HOME
    path(hf_home)

    output:
    tuple val(meta), path("*.safetensors"), emit: features
    path "versions.yml"                   , emit: versions

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.shard ?: meta.id}"
    def model_dir_arg = model_dir ? "--model-dir '${model_dir}'" : ''
    def hf_home_arg = hf_home ? "--hf-home '${hf_home}'" : ''
    """
    embed_dna.py \\
        --input '${nucleotide}' \\
        --output '${prefix}.${model}.dna.safetensors' \\
        --embedder '${model}' \\
        ${model_dir_arg} \\
        ${hf_home_arg} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(embed_dna.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.shard ?: meta.id}"
    """
    touch ${prefix}.${model}.dna.safetensors

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(embed_dna.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
