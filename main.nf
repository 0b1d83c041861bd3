#!/usr/bin/env nextflow
/*
 * VirNucPro-NF: classify short DNA sequences as viral or not.
 *
 *   nextflow run main.nf -profile gpu,docker --mode cache --hf_home /data/hf_cache --embedders esm2_3b,fastesm2_650
 *   nextflow run main.nf -profile gpu,docker --input samplesheet.csv --model CLASSIFIER_DIR --embedders EMBEDDER --hf_home /data/hf_cache
 *   nextflow run main.nf -profile gpu,docker --input genomes.csv --mode train|compare --embedders esm2_3b,fastesm2_650 --hf_home /data/hf_cache
 *
 * See nextflow_schema.json (or --help) for the parameters and
 * assets/schema_input.json for the samplesheet columns.
 */

include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'
include { MODEL_CACHE } from './modules/local/model_cache/main'
include { modelFolder } from './subworkflows/local/embed_and_merge/main'
include { PREDICT     } from './workflows/predict'
include { TRAIN       } from './workflows/train'
include { COMPARE     } from './workflows/compare'

workflow {
    if (!(params.mode in ['predict', 'train', 'compare', 'cache'])) {
        error("Unknown --mode '${params.mode}': use 'predict' (classify sequences), 'train' (train a classifier per protein embedder), 'compare' (train, evaluate and compare the protein embedders) or 'cache' (fill the model cache)")
    }
    validateParameters()
    log.info(paramsSummaryLog(workflow))

    // Embedders: one DNA model, one or more protein embedders (comma-separated)
    dna_model = params.dna_model
    embedders = params.embedders.toString().tokenize(',').collect { name -> name.trim() }.findAll { name -> name }.unique()
    if (!embedders) {
        error("--embedders is empty: give one or more protein embedders, comma-separated (e.g. esm2_3b,fastesm2_650)")
    }
    models_dir = params.models_dir ? file(params.models_dir, checkIfExists: true) : null
    // Models not given as folders under --models_dir come from the cache
    models = ([dna_model] + embedders).unique().sort()
    cached_models = models.findAll { name -> !modelFolder(models_dir, name) }

    if (params.mode == 'cache') {
        // The one entry that downloads: fill --hf_home (or, with --offline, check it)
        if (!params.hf_home) {
            error("--mode cache fills the model cache folder given with --hf_home: give one, e.g. --hf_home /data/hf_cache, and pass the same folder to later runs")
        }
        if (!cached_models) {
            error("--mode cache: every model (${models.join(', ')}) has a folder under --models_dir, so there is nothing to cache")
        }
        hf_home = file(params.hf_home)
        hf_home.mkdirs()
        MODEL_CACHE(cached_models, hf_home, !params.offline.toString().toBoolean())
        collectVersions(MODEL_CACHE.out.versions)
    } else {
        // Checks that need no task, so that a mistake stops the run before any embedding
        if (!params.input) {
            error("--input is required in --mode ${params.mode}: a samplesheet CSV (see assets/schema_input.json)")
        }
        model = null
        if (params.mode == 'predict') {
            model = classifierFolder(params.model, embedders, dna_model, params.chunk_size)
        }
        if (params.mode == 'compare' && !(params.baseline in embedders)) {
            error("--baseline '${params.baseline}' is not among --embedders (${embedders.join(',')}): the speedup and ΔF1 are measured against it, so compare it too or choose another baseline")
        }

        samples = channel.fromList(samplesheetToList(params.input, "${projectDir}/assets/schema_input.json"))

        // Model cache: checked offline before any embedding, so that a missing model
        // stops the run at once, named, with the command that fills the cache.
        // Embedding tasks start once the check has passed.
        versions = channel.empty()
        cache_folder = params.hf_home ? file(params.hf_home, checkIfExists: true) : []
        hf_home = cache_folder
        if (cached_models) {
            MODEL_CACHE(cached_models, cache_folder, false)
            hf_home = MODEL_CACHE.out.report.map { _report -> cache_folder }.first()
            versions = versions.mix(MODEL_CACHE.out.versions)
        }

        if (params.mode == 'train') {
            TRAIN(samples, dna_model, embedders, models_dir, hf_home)
            versions = versions.mix(TRAIN.out.versions)
        } else if (params.mode == 'compare') {
            COMPARE(samples, dna_model, embedders, models_dir, hf_home)
            versions = versions.mix(COMPARE.out.versions)
        } else {
            PREDICT(samples, dna_model, embedders, models_dir, hf_home, model)
            versions = versions.mix(PREDICT.out.versions)
        }
        collectVersions(versions)
    }
}

// pipeline_info/software_versions.yml: one entry per process (tasks of the same
// process write identical files), and the pipeline's own
def collectVersions(versions) {
    def pipeline = """\
        "Workflow":
            virnucpro-nf: ${workflow.manifest.version}
            nextflow: ${workflow.nextflow.version}
            profile: ${workflow.profile}
            container_engine: ${workflow.containerEngine ?: 'none'}
        """.stripIndent()
    versions
        .map { yml -> yml.text }
        .unique()
        .mix(channel.of(pipeline))
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true, newLine: true)
}

// The classifier of --mode predict: a checkpoint folder whose embedders and
// chunk size are those of this run. Predict mode embeds with exactly one
// protein embedder, the one the classifier was trained with; CLASSIFY refuses
// mismatched features too, but only after the embedding (hours on a GPU).
def classifierFolder(path, embedders, dna_model, chunk_size) {
    if (!path) {
        error("--model is required in predict mode: give a classifier checkpoint folder, e.g. <outdir>/classifiers/esm2_3b_classifier from --mode train")
    }
    def folder = file(path, checkIfExists: true)
    if (!folder.isDirectory()) {
        error("--model ${path} is not a folder: give a classifier checkpoint folder holding model.safetensors and classifier.json")
    }
    if (embedders.size() != 1) {
        error("--embedders names ${embedders.size()} protein embedders (${embedders.join(',')}): predict mode needs exactly one, the embedder the classifier (--model) was trained with")
    }
    def metadata = folder.resolve('classifier.json')
    if (!metadata.exists()) {
        error("--model ${path} has no classifier.json: give a folder written by --mode train or by convert_legacy_model.py")
    }
    def classifier = null
    try {
        classifier = new groovy.json.JsonSlurper().parseText(metadata.text)
    } catch (Exception e) {
        error("--model ${path}: classifier.json is not valid JSON (${e.message?.readLines()?.first()})")
    }
    if (!(classifier instanceof Map)) {
        error("--model ${path}: classifier.json is not a JSON object")
    }
    def expected = [protein: embedders[0], dna: dna_model, chunk_size: chunk_size.toString()]
    def trained = [protein: classifier.embedders?.protein, dna: classifier.embedders?.dna, chunk_size: classifier.chunk_size?.toString()]
    if (trained != expected) {
        error("--model ${path} was trained with protein embedder ${trained.protein}, DNA model ${trained.dna} and chunk size ${trained.chunk_size}, but this run uses --embedders ${expected.protein} --dna_model ${expected.dna} --chunk_size ${expected.chunk_size}: set them to the classifier's")
    }
    return folder
}
