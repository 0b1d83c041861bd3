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
include { PREDICT } from './workflows/predict'
include { TRAIN   } from './workflows/train'

workflow {
    if (!(params.mode in ['predict', 'train'])) {
        error("Unknown --mode '${params.mode}': use 'predict' (classify sequences) or 'train' (build a training set)")
    }
    validateParameters()
    log.info(paramsSummaryLog(workflow))

    samples = channel.fromList(samplesheetToList(params.input, "${projectDir}/assets/schema_input.json"))

    versions = channel.empty()
    if (params.mode == 'train') {
        TRAIN(samples)
        versions = TRAIN.out.versions
    } else {
        PREDICT(samples)
        versions = PREDICT.out.versions
    }

    // One entry per process: tasks of the same process write identical files
    versions
        .map { yml -> yml.text }
        .unique()
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true, newLine: true)
}
