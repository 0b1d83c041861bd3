process EMBED_DNA {
    tag "${metas[0].id} ${metas.size()} shard(s) ${model}"
    label 'process_gpu'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer; -profile gpu gives this GPU step
    // the CUDA image of containers/Dockerfile instead (conf/gpu.config)
    container 'virnucpro-nf-cpu:0.1.0'

    // Exit status 75: out of GPU memory (one sequence alone, or a model next to
    // another process). conf/base.config retries it; conf/modules.config halves
    // the --token-budget on each attempt.

    input:
    // A group of shards of one sample, embedded with one model load (loading
    // ESM2-3B takes as long as embedding a shard); one meta per file, in order
    tuple val(metas), path(nucleotides, arity: '1..*', stageAs: 'shards/*')
    // Registered DNA embedder (dnabert_s, dna_composition, tiny_dnabert_s)
    val(model)
    // Optional model folder named after the embedder (staged, so containers see it); [] loads by name
    path(model_dir)
    // Optional Hugging Face cache filled by MODEL_CACHE (staged); [] uses $HF_HOME
    path(hf_home)
    // Chunk length in bases the frames are cut with (--chunk_size); recorded in the outputs
    val(chunk_size)

    output:
    // One feature file per shard, named after it ({shard}.{model}.dna.safetensors)
    tuple val(metas), path("*.dna.safetensors", arity: '1..*'), emit: features
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
    if (metas.size() != nucleotides.size()) {
        error("${task.process}: ${metas.size()} shard metas for ${nucleotides.size()} files")
    }
    def pairs = [metas, nucleotides].transpose().collect { meta, nucleotide -> "--input '${nucleotide}' --output '${meta.shard ?: meta.id}.${model}.dna.safetensors'" }.join(' ')
    def model_dir_arg = model_dir ? "--model-dir '${model_dir}'" : ''
    def hf_home_arg = hf_home ? "--hf-home '${hf_home}'" : ''
    """
    embed_dna.py \\
        --threads '${task.cpus}' \\
        ${pairs} \\
        --embedder '${model}' \\
        --chunk-size '${chunk_size}' \\
        ${model_dir_arg} \\
        ${hf_home_arg} \\
        ${args}
    """

    stub:
    def outputs = metas.collect { meta -> "'${meta.shard ?: meta.id}.${model}.dna.safetensors'" }.join(' ')
    """
    touch ${outputs}
    """
}
