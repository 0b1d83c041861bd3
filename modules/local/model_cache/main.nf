process MODEL_CACHE {
    tag "${embedders.join(',')}"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'
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
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python

    when:
    task.ext.when == null || task.ext.when

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
        --threads '${task.cpus}' \\
        ${embedder_args} \\
        ${hf_home_arg} \\
        ${offline_arg} \\
        --report model_cache.tsv \\
        ${args}
    """

    stub:
    """
    printf 'embedder\\tsource\\tmodel_id\\trevision\\tcommit\\tfolder\\tsize_bytes\\n' > model_cache.tsv
    """
}
