process MODEL_CACHE {
    tag "${embedders.join(',')}"
    label 'process_single'

    input:
    // Registered embedder names; those without downloadable weights are skipped
    val(embedders)

    output:
    // Kept with storeDir (conf/modules.config): later runs reuse it without downloading
    path "hf_home"     , emit: hf_home
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    def embedder_args = embedders.collect { name -> "--embedder ${name}" }.join(' ')
    // The only task that downloads: lift the HF_HUB_OFFLINE=1 of nextflow.config
    """
    export HF_HUB_OFFLINE=0
    mkdir -p hf_home
    model_cache.py \\
        ${embedder_args} \\
        --hf-home hf_home \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(model_cache.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p hf_home/hub

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(model_cache.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
