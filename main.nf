#!/usr/bin/env nextflow
/*
 * VirNucPro-NF: classify short DNA sequences as viral or not.
 *
 *   nextflow run main.nf -profile gpu,docker --mode cache --hf_home /data/hf_cache --embedders esm2_3b,fastesm2_650
 *   nextflow run main.nf -profile docker --mode download --download_dir /data/refseq
 *   nextflow run main.nf -profile gpu,docker --input samplesheet.csv --classifier CLASSIFIER_DIR --embedders EMBEDDER --hf_home /data/hf_cache
 *   nextflow run main.nf -profile gpu,docker --input genomes.csv --mode train|compare --embedders esm2_3b,fastesm2_650 --hf_home /data/hf_cache
 *
 *   nextflow run main.nf -profile test,docker    (or test_compare: the bundled data, on the CPU)
 *
 * See nextflow_schema.json (or --help) for the parameters and
 * assets/schema_input.json for the samplesheet columns. What every run does
 * before and after its mode (help, parameter checks, samplesheet, software
 * versions) is in subworkflows/local/utils_nfcore_virnucpro_pipeline.
 */

include { PIPELINE_INITIALISATION; PIPELINE_COMPLETION; runSettings } from './subworkflows/local/utils_nfcore_virnucpro_pipeline/main'
include { MODEL_CACHE } from './modules/local/model_cache/main'
include { DOWNLOAD_REFSEQ } from './modules/local/download_refseq/main'
include { PREDICT     } from './workflows/predict'
include { TRAIN       } from './workflows/train'
include { COMPARE     } from './workflows/compare'
include { MULTIQC_REPORT } from './modules/local/multiqc_report/main'

workflow {
    // --help, parameter checks and samplesheet: a mistake stops the run here, before any task
    PIPELINE_INITIALISATION()
    // Embedders, models and paths as plain values (a subworkflow emits only channels)
    settings = runSettings()
    // What predict and compare mode give the MultiQC report besides the software versions
    multiqc_content = null

    if (params.mode == 'cache') {
        // The one entry that downloads models: fill --hf_home (or, with --offline, check it)
        MODEL_CACHE(settings.cached_models, settings.hf_home, !params.offline.toString().toBoolean())
    } else if (params.mode == 'download') {
        // The training data: the original tool's RefSeq files into --download_dir (kept
        // between runs: a rerun resumes), and the samplesheet --mode compare takes
        DOWNLOAD_REFSEQ(
            file(params.download_dir, type: 'dir'),
            params.refseq_url,
            params.seed,
            params.host_files.toString().tokenize(','),
            params.viral_files.toString().tokenize(',')
        )
    } else {
        // Model cache: checked offline before any embedding, so that a missing model
        // stops the run at once, named, with the command that fills the cache.
        // Embedding tasks start once the check has passed (MODEL_CACHE has only
        // value inputs, so its report is a value channel).
        hf_home = settings.hf_home
        if (settings.cached_models) {
            MODEL_CACHE(settings.cached_models, settings.hf_home, false)
            hf_home = MODEL_CACHE.out.report.map { _report -> settings.hf_home }
        }

        samples = PIPELINE_INITIALISATION.out.samples
        if (params.mode == 'train') {
            TRAIN(samples, settings.dna_model, settings.embedders, settings.models_dir, hf_home, settings.chunk_size, settings.shards_per_task)
        } else if (params.mode == 'compare') {
            COMPARE(samples, settings.dna_model, settings.embedders, settings.models_dir, hf_home, settings.chunk_size, settings.shards_per_task)
            multiqc_content = COMPARE.out.multiqc
        } else {
            PREDICT(samples, settings.dna_model, settings.embedders, settings.models_dir, hf_home, settings.classifier, settings.chunk_size, settings.shards_per_task)
            multiqc_content = PREDICT.out.multiqc
        }
    }

    // pipeline_info/software_versions.yml
    PIPELINE_COMPLETION(channel.topic('versions'))

    // multiqc/: one MultiQC report of the run, from the steps' summaries (each
    // sample's calls; the comparison and its verdicts) and the software versions.
    // Train, cache and download mode write no summary: MultiQC has nothing to show
    if (multiqc_content != null) {
        MULTIQC_REPORT(
            multiqc_content.mix(PIPELINE_COMPLETION.out.multiqc).collect(),
            file("${projectDir}/assets/multiqc_config.yml", checkIfExists: true)
        )
    }
}
