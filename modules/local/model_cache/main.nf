process MODEL_CACHE {
    tag "${embedders.join(',')}"
    label 'process_single'
    // Always run: the check is quick, and a cache changed since the last run
    // (models added or deleted deep inside it) must be seen again
    cache false

    input:
    // Registered embedder names; those without downloadable weights are skipped
    val(embedders)
    // The cache folder, filled or checked in place (staged, so that containers
    // see it); [] uses $HF_HOME of the task's environment
    path(hf_home)
    // true: download what is missing (needs internet); false: only check, offline
    val(download)

    output:
    path "model_cache.tsv", emit: report
    path "versions.yml"   , emit: versions

    script:
    def args = task.ext.args ?: ''
    def embedder_args = embedders.collect { name -> "--embedder '${name}'" }.join(' ')
    def hf_home_arg = hf_home ? "--hf-home '${hf_home}'" : ''
    // The only task that may download: it lifts the HF_HUB_OFFLINE=1 of nextflow.config
    def network = download ? 'export HF_HUB_OFFLINE=0' : ''
    def offline_arg = download ? '' : '--offline'
    """
    ${network}
    model_cache.py \\
        ${embedder_args} \\
        ${hf_home_arg} \\
        ${offline_arg} \\
        --report model_cache.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(model_cache.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """

    stub:
    """
    printf 'embedder\\tmodel_id\\trevision\\tfolder\\tsize_bytes\\n' > model_cache.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(model_cache.py --version)
        python: \$(python3 --version | sed 's/^Python //')
    END_VERSIONS
    """
}
