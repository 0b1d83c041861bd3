process MERGE_FEATURES {
    tag "${meta.shard ?: meta.id} ${embedder}"
    label 'process_single'
    // The image of containers/Dockerfile (containers/README.md), used with -profile docker,
    // singularity or apptainer
    container 'virnucpro-nf:0.1.0'

    input:
    // DNA and protein features of the same shard, protein from the embedder named
    tuple val(meta), val(embedder), path(dna), path(protein)

    output:
    tuple val(meta), val(embedder), path("*.merged.safetensors"), emit: features
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.shard ?: meta.id}"
    """
    merge_features.py \\
        --dna '${dna}' \\
        --protein '${protein}' \\
        --output '${prefix}.${embedder}.merged.safetensors' \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.shard ?: meta.id}"
    """
    touch ${prefix}.${embedder}.merged.safetensors
    """
}
