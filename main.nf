#!/usr/bin/env nextflow
/*
 * VirNucPro-NF: classify short DNA sequences as viral or not.
 *
 *   nextflow run main.nf -profile docker --input samplesheet.csv [--mode predict|train]
 *
 * See nextflow_schema.json (or --help) for the parameters and
 * assets/schema_input.json for the samplesheet columns.
 */

include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'
include { MODEL_CACHE } from './modules/local/model_cache/main'
include { PREDICT     } from './workflows/predict'
include { TRAIN       } from './workflows/train'

workflow {
    if (!(params.mode in ['predict', 'train'])) {
        error("Unknown --mode '${params.mode}': use 'predict' (classify sequences) or 'train' (build a training set)")
    }
    validateParameters()
    log.info(paramsSummaryLog(workflow))

    samples = channel.fromList(samplesheetToList(params.input, "${projectDir}/assets/schema_input.json"))

    // Embedders: one DNA model, one or more protein embedders (comma-separated)
    dna_model = params.dna_model
    embedders = params.embedders.toString().tokenize(',').collect { name -> name.trim() }.findAll { name -> name }.unique()
    if (!embedders) {
        error("--embedders is empty: give one or more protein embedders, comma-separated (e.g. esm2_3b,fastesm2_650)")
    }
    models_dir = params.models_dir ? file(params.models_dir, checkIfExists: true) : null

    // Model cache: filled here (the only task that downloads), or given, or $HF_HOME
    versions = channel.empty()
    hf_home = params.hf_home ? file(params.hf_home, checkIfExists: true) : []
    if (params.fill_model_cache.toString().toBoolean()) {
        if (params.hf_home) {
            log.warn("--hf_home is ignored with --fill_model_cache: the models are fetched into ${params.outdir}/model_cache/")
        }
        MODEL_CACHE(([dna_model] + embedders).unique().sort())
        hf_home = MODEL_CACHE.out.hf_home
        versions = versions.mix(MODEL_CACHE.out.versions)
    }

    if (params.mode == 'train') {
        TRAIN(samples, dna_model, embedders, models_dir, hf_home)
        versions = versions.mix(TRAIN.out.versions)
    } else {
        PREDICT(samples, dna_model, embedders, models_dir, hf_home)
        versions = versions.mix(PREDICT.out.versions)
    }

    // One entry per process: tasks of the same process write identical files
    versions
        .map { yml -> yml.text }
        .unique()
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true, newLine: true)
}
