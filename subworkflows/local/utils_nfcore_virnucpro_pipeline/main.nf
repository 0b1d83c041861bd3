/*
 * What every run of VirNucPro-NF does before and after its mode's work, so that
 * main.nf holds only the mode dispatch (the layout of nf-core's
 * utils_nfcore_<pipeline>_pipeline subworkflow):
 *
 *   PIPELINE_INITIALISATION: --help, --mode, the parameter schema, the parameter
 *     summary, GPU scheduling, and every check that needs no task, so that a
 *     mistake stops the run before any task starts; emits the samples.
 *   PIPELINE_COMPLETION: pipeline_info/software_versions.yml from the versions topic.
 *   runSettings(): the run's settings as plain values for main.nf and the workflows.
 */

include { validateParameters; paramsHelp; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'
include { modelFolder } from '../embed_and_merge/main'

workflow PIPELINE_INITIALISATION {
    main:
    // --version and --help [parameter]: printed, not logged, so that they show under -quiet too
    if (params.version && params.version != 'false') {
        println(pipelineVersion())
        exit 0
    }
    if (params.help && params.help != 'false') {
        def parameter = params.help instanceof String && params.help != 'true' ? params.help : ''
        println(unwrapped(paramsHelp(command: 'nextflow run main.nf -profile gpu,docker --input samplesheet.csv --classifier CLASSIFIER_DIR --hf_home /data/hf_cache --outdir results', parameter)))
        exit 0
    }
    if (!(params.mode in ['predict', 'train', 'compare', 'cache', 'download'])) {
        error("Unknown --mode '${params.mode}': use 'predict' (classify sequences), 'train' (train a classifier per protein embedder), 'compare' (train, evaluate and compare the protein embedders), 'cache' (fill the model cache) or 'download' (fetch the RefSeq training data)")
    }
    validateParameters()
    log.info(paramsSummaryLog(workflow))
    writeParams()
    checkGpuScheduling()

    // Embedders, models and the cache (checks: --embedders not empty, --models_dir exists)
    settings = runSettings()

    // Assigned here so that the emit exists in every mode (--mode cache and download read no samplesheet)
    samples = channel.empty()
    if (params.mode == 'download') {
        if (!params.download_dir) {
            error("--mode download fills the folder given with --download_dir (tens of GB with the default choice): give one, e.g. --download_dir /data/refseq; a rerun with the same folder resumes")
        }
        file(params.download_dir).mkdirs()
    } else if (params.mode == 'cache') {
        // The one entry that downloads: fill --hf_home (or, with --offline, check it)
        if (!params.hf_home) {
            error("--mode cache fills the model cache folder given with --hf_home: give one, e.g. --hf_home /data/hf_cache, and pass the same folder to later runs")
        }
        if (!settings.cached_models) {
            error("--mode cache: every model (${settings.models.join(', ')}) has a folder under --models_dir, so there is nothing to cache")
        }
        file(params.hf_home).mkdirs()
    } else {
        // Checks that need no task, so that a mistake stops the run before any embedding
        if (!params.input) {
            error("--input is required in --mode ${params.mode}: a samplesheet CSV (see assets/schema_input.json)")
        }
        if (params.mode == 'compare' && !(params.baseline in settings.embedders)) {
            error("--baseline '${params.baseline}' is not among --embedders (${settings.embedders.join(',')}): the speedup and ΔF1 are measured against it, so compare it too or choose another baseline")
        }

        // Every sample's file resolved now, so that a missing one stops the run before any task
        samplesheet = file(params.input, checkIfExists: true)
        rows = samplesheetToList(params.input, "${projectDir}/assets/schema_input.json")
        samples = channel.fromList(rows.collect { meta, sequences -> [meta, sampleFile(samplesheet, meta.id, sequences)] })

        // The model cache folder must exist; main.nf checks its models offline
        if (params.hf_home) {
            file(params.hf_home, checkIfExists: true)
        }
    }

    emit:
    samples // channel: [ val(meta), path(sequences) ], one item per samplesheet row; empty in --mode cache and download
}

workflow PIPELINE_COMPLETION {
    take:
    versions // channel: [ val(process), val(tool), val(version) ], the versions topic

    main:
    versions_mqc = softwareVersions(versions)

    emit:
    multiqc = versions_mqc // channel: path(virnucpro_software_mqc_versions.yml), the same versions for the MultiQC report
}

// The settings of this run, as plain values: a subworkflow's emits reach its caller
// as channels, and main.nf and the workflows need lists, paths and integers (in
// `if`, closures and modelFolder). PIPELINE_INITIALISATION calls it first, so that
// its checks stop a bad run there; main.nf calls it again for the values.
// Predict mode takes the DNA model, the protein embedder and the chunk size from
// the classifier (the checkpoint is the source of truth, as for `virnucpro
// predict`); train and compare mode from the parameters, else their defaults.
def runSettings() {
    def classifier = params.mode == 'predict' ? classifierSettings(params.classifier) : null
    def dna_model = classifier ? classifier.dna : (params.dna_model ?: 'dnabert_s')
    def embedders = classifier ? [classifier.protein] : (params.embedders == null ? 'esm2_3b' : params.embedders).toString().tokenize(',').collect { name -> name.trim() }.findAll { name -> name }.unique()
    if (!embedders) {
        error("--embedders is empty: give one or more protein embedders, comma-separated (e.g. esm2_3b,fastesm2_650)")
    }
    def chunk_size = classifier ? classifier.chunk_size : (params.chunk_size == null ? 300 : params.chunk_size) as Integer
    def shards_per_task = params.shards_per_task as Integer
    def models_dir = params.models_dir ? file(params.models_dir, checkIfExists: true) : null
    // Models not given as folders under --models_dir come from the cache
    def models = ([dna_model] + embedders).unique().sort()
    return [
        dna_model: dna_model,
        embedders: embedders,
        chunk_size: chunk_size,
        shards_per_task: shards_per_task,
        models_dir: models_dir,
        models: models,
        cached_models: models.findAll { name -> !modelFolder(models_dir, name) },
        classifier: classifier?.folder,
        // The model cache folder; [] uses $HF_HOME of the tasks' environment
        hf_home: params.hf_home ? file(params.hf_home) : []
    ]
}

// The pipeline's name and version, with the commit when run from a repository
def pipelineVersion() {
    def commit = workflow.commitId ? " (commit ${workflow.commitId.take(7)})" : ''
    return "${workflow.manifest.name} ${workflow.manifest.version}${commit}"
}

// nf-schema wraps a description longer than $COLUMNS (100 when unset) with no indent,
// which leaves fragments in the first column: each is joined back to its parameter's
// row, so that every parameter is one line, as the terminal wraps it. A row starts
// with '  --', or with '--' for nf-schema's own (--help, --helpFull, --showHidden)
def unwrapped(String help) {
    def lines = []
    def in_row = false
    help.readLines().each { line ->
        def row = line.startsWith('--') || line.startsWith('  --')
        if (in_row && line.trim() && !row && !Character.isWhitespace(line.charAt(0))) {
            lines[-1] = lines[-1].replaceAll(/\s+$/, '') + ' ' + line.trim()
        } else {
            lines << line
            in_row = row
        }
    }
    return lines.join('\n')
}

// pipeline_info/params_<trace_report_suffix>.json: every parameter of this run, as
// nf-core pipelines keep them, beside the execution report of the same run
def writeParams() {
    def values = params.collectEntries { name, value ->
        [name, value == null || value instanceof Boolean || value instanceof Number ? value : value.toString()]
    }
    def folder = file("${params.outdir}/pipeline_info")
    folder.mkdirs()
    folder.resolve("params_${params.trace_report_suffix}.json").text = groovy.json.JsonOutput.prettyPrint(groovy.json.JsonOutput.toJson(values.sort())) + '\n'
}

// pipeline_info/software_versions.yml: for each process, the version of every
// tool its tasks reported on the versions topic (process, tool, version), and
// the pipeline's own. Tasks of one process on different GPUs list each GPU.
// Returns the same YAML as virnucpro_software_mqc_versions.yml, a name MultiQC
// reads as software versions.
def softwareVersions(versions) {
    def pipeline = [
        'virnucpro-nf': workflow.manifest.version,
        nextflow: workflow.nextflow.version.toString(),
        profile: workflow.profile,
        container_engine: workflow.containerEngine ?: 'none'
    ]
    def yaml = versions
        .map { process, tool, version -> [process.tokenize(':').last(), tool, version.toString().trim()] }
        .unique()
        .toList()
        .map { rows -> versionsYaml(rows, pipeline) }
    yaml.collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info")
    return yaml.collectFile(name: 'virnucpro_software_mqc_versions.yml')
}

// YAML text of {process: {tool: version}} in name order, the pipeline last as "Workflow"
def versionsYaml(rows, pipeline) {
    def by_process = rows.groupBy { row -> row[0] }.sort()
    def lines = by_process.collect { process, entries ->
        def tools = entries.groupBy { entry -> entry[1] }.sort()
        ["${process}:"] + tools.collect { tool, found -> "    ${tool}: ${yamlString(found.collect { entry -> entry[2] }.unique().sort().join('; '))}" }
    }.flatten()
    lines += ['Workflow:'] + pipeline.collect { key, value -> "    ${key}: ${yamlString(value)}" }
    return lines.join('\n') + '\n'
}

// A YAML double-quoted scalar: versions such as 12.4 or 2.13.0+cpu stay strings
def yamlString(value) {
    return '"' + value.toString().replace('\\', '\\\\').replace('"', '\\"') + '"'
}

// A samplesheet's sequences path: absolute paths and URLs as given; a relative
// path from the samplesheet's own folder, else from the launch folder. A path
// found in both places, as two different files, is refused: either could be meant.
def sampleFile(samplesheet, id, value) {
    if (value ==~ /^[A-Za-z][A-Za-z0-9+.-]*:\/\/.*/ || value.startsWith('/')) {
        def given = file(value)
        if (!given.exists()) {
            error("Samplesheet ${samplesheet}, sample '${id}': ${value} does not exist")
        }
        return given
    }
    def beside_sheet = samplesheet.parent.resolve(value)
    def from_launch = workflow.launchDir.resolve(value)
    def found = [beside_sheet, from_launch].findAll { candidate -> candidate.exists() }.unique { candidate -> candidate.toRealPath() }
    if (!found) {
        error("Samplesheet ${samplesheet}, sample '${id}': ${value} does not exist (looked for ${beside_sheet}, beside the samplesheet, and ${from_launch}, from the launch folder)")
    }
    if (found.size() > 1) {
        error("Samplesheet ${samplesheet}, sample '${id}': ${value} names two different files, ${beside_sheet} (beside the samplesheet) and ${from_launch} (from the launch folder): give an absolute path")
    }
    return found[0]
}

// -profile gpu on one server: Nextflow's local executor gives each GPU task one of
// the ids in CUDA_VISIBLE_DEVICES (or HIP_/ROCR_VISIBLE_DEVICES) of the shell that
// launched it. Without that variable it tracks no GPU and starts every GPU task at
// once on the same device, so such a run is refused before any task starts.
def checkGpuScheduling() {
    // -profile gpu sets --device cuda; a profile named after it (in any order), a -c
    // config or --device may set it back, which would run every GPU task on the CPU
    def gpu_profile = workflow.profile.tokenize(',')*.trim().contains('gpu')
    if (gpu_profile && params.device != 'cuda') {
        error("-profile gpu embeds on the GPU, but --device is '${params.device}' (set by another profile, a -c config or the command line): leave --device out to run on the GPU, or leave out -profile gpu to run on the CPU")
    }
    if (params.device != 'cuda') {
        return
    }
    def executor = 'local'
    try {
        def process_config = workflow.session.config.navigate('process') ?: [:]
        executor = process_config['withLabel:process_gpu']?.executor ?: process_config.executor ?: 'local'
    } catch (Exception e) {
        // The session's config is not public API: if it cannot be read, do not refuse the run
        log.debug("GPU scheduling check skipped: ${e.message}")
        return
    }
    if (executor != 'local') {
        return
    }
    def visible = ['CUDA_VISIBLE_DEVICES', 'HIP_VISIBLE_DEVICES', 'ROCR_VISIBLE_DEVICES'].find { name -> System.getenv(name) != null }
    if (!visible) {
        error("-profile gpu (--device cuda) on this machine needs CUDA_VISIBLE_DEVICES: export the GPUs this run may use, e.g. export CUDA_VISIBLE_DEVICES=0,1 (nvidia-smi -L lists them), then run again. Nextflow gives each GPU task one of them, so tasks never share a GPU.")
    }
    if (!System.getenv(visible).trim()) {
        error("-profile gpu (--device cuda): ${visible} is empty, so no GPU task could ever start: list the GPUs this run may use, e.g. export ${visible}=0,1 (nvidia-smi -L lists them)")
    }
}

// The classifier of --mode predict and the settings it was trained with: its
// DNA model, protein embedder and chunk size. CLASSIFY checks the checkpoint
// itself and the features against it; read here is what the run must embed with,
// so that the embedding (hours on a GPU) matches. --dna_model, --embedders or
// --chunk_size given as well must agree with the classifier.
def classifierSettings(path) {
    if (!path) {
        error("--classifier is required in predict mode: give a classifier checkpoint folder, e.g. <outdir>/classifiers/esm2_3b_classifier from --mode train")
    }
    def folder = file(path)
    if (!folder.exists()) {
        error("--classifier ${path} does not exist: give a classifier checkpoint folder, e.g. <outdir>/classifiers/esm2_3b_classifier from --mode train")
    }
    if (!folder.isDirectory()) {
        error("--classifier ${path} is not a folder: give a classifier checkpoint folder holding model.safetensors and classifier.json")
    }
    def metadata = folder.resolve('classifier.json')
    if (!metadata.exists()) {
        error("--classifier ${path} has no classifier.json: give a folder written by --mode train or by convert_legacy_model.py")
    }
    def classifier = null
    try {
        classifier = new groovy.json.JsonSlurper().parseText(metadata.text)
    } catch (Exception e) {
        error("--classifier ${path}: classifier.json is not valid JSON (${e.message?.readLines()?.first()})")
    }
    def trained = classifier instanceof Map ? [dna: classifier.embedders?.dna, protein: classifier.embedders?.protein, chunk_size: classifier.chunk_size] : [:]
    if (!(trained.dna instanceof String && trained.protein instanceof String && trained.chunk_size instanceof Integer)) {
        error("--classifier ${path}: classifier.json does not name its embedders (embedders.dna, embedders.protein) and chunk_size: give a folder written by --mode train or by convert_legacy_model.py")
    }
    // Embedder names become model folder paths (--models_dir/<name>): a registered name
    // is lower-case letters, digits and '_', never a path such as ../x
    [trained.dna, trained.protein].findAll { name -> !(name ==~ /[a-z0-9_]+/) }.each { name ->
        error("--classifier ${path}: classifier.json names embedder '${name}', which is not an embedder name (lower-case letters, digits and '_')")
    }
    def given = [
        '--dna_model': [params.dna_model, trained.dna],
        '--embedders': [params.embedders, trained.protein],
        '--chunk_size': [params.chunk_size, trained.chunk_size]
    ]
    given.each { option, values ->
        def (value, from_classifier) = values
        if (value != null && value.toString().trim() != from_classifier.toString()) {
            error("${option} ${value}: the classifier ${path} was trained with ${from_classifier}. Predict mode takes the DNA model, the protein embedder and the chunk size from the classifier: leave ${option} out")
        }
    }
    return trained + [folder: folder]
}
