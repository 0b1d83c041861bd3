process EMBED_PROTEIN {
    tag "${metas[0].id} ${metas.size()} shard(s) ${embedder}"
    label 'process_gpu'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer; -profile gpu gives this GPU step
    // the CUDA image of containers/Dockerfile instead (conf/gpu.config)
    container 'virnucpro-nf-cpu:0.1.0'

    // Exit status 75: out of GPU memory (one sequence alone, or a model next to
    // another process). conf/base.config retries it; conf/modules.config halves
    // the --token-budget on each attempt.

    input:
    // One task per group of shards (of one sample) x embedder, one model load
    // for the group, one meta per file, in order; model_dir is an optional model folder
    // (staged, so containers see it), [] loads the embedder from the cache
    tuple val(metas), path(proteins, arity: '1..*', stageAs: 'shards/*'), val(embedder), path(model_dir)
    // Optional Hugging Face cache filled by MODEL_CACHE (staged); [] uses $HF_HOME
    path(hf_home)
    // Chunk length in bases the frames are cut with (--chunk_size); recorded in the outputs
    val(chunk_size)

    output:
    // The embedder is part of the name: one embedder's features never overwrite another's
    tuple val(metas), val(embedder), path("*.protein.safetensors", arity: '1..*'), emit: features
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python
    tuple val("${task.process}"), val('torch'), eval('software_version.py torch'), topic: versions, emit: versions_torch
    tuple val("${task.process}"), val('transformers'), eval('software_version.py transformers'), topic: versions, emit: versions_transformers
    tuple val("${task.process}"), val('cuda'), eval('software_version.py cuda'), topic: versions, emit: versions_cuda
    tuple val("${task.process}"), val('gpu'), eval('software_version.py gpu'), topic: versions, emit: versions_gpu

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    if (metas.size() != proteins.size()) {
        error("${task.process}: ${metas.size()} shard metas for ${proteins.size()} files")
    }
    def pairs = [metas, proteins].transpose().collect { meta, protein -> "--input '${protein}' --output '${meta.shard ?: meta.id}.${embedder}.protein.safetensors'" }.join(' ')
    def model_dir_arg = model_dir ? "--model-dir '${model_dir}'" : ''
    def hf_home_arg = hf_home ? "--hf-home '${hf_home}'" : ''
    """
    embed_protein.py \\
        --threads '${task.cpus}' \\
        ${pairs} \\
        --embedder '${embedder}' \\
        --chunk-size '${chunk_size}' \\
        ${model_dir_arg} \\
        ${hf_home_arg} \\
        ${args}
    """

    stub:
    def outputs = metas.collect { meta -> "'${meta.shard ?: meta.id}.${embedder}.protein.safetensors'" }.join(' ')
    """
    touch ${outputs}
    """
}
