process BENCHMARK_EMBEDDER {
    tag "${embedder}"
    label 'process_gpu'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer; -profile gpu gives this GPU step
    // the CUDA image of containers/Dockerfile instead (conf/gpu.config)
    container 'virnucpro-nf-cpu:0.1.0'

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
    def prefix = task.ext.prefix ?: "${embedder}"
    def model_dir_arg = model_dir ? "--model-dir '${model_dir}'" : ''
    def hf_home_arg = hf_home ? "--hf-home '${hf_home}'" : ''
    """
    benchmark_embedder.py \\
        --threads '${task.cpus}' \\
        --embedder '${embedder}' \\
        --input '${input_fasta}' \\
        --output '${prefix}.benchmark.json' \\
        ${model_dir_arg} \\
        ${hf_home_arg} \\
        ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${embedder}"
    """
    touch ${prefix}.benchmark.json
    """
}
