process DOWNLOAD_REFSEQ {
    tag "seed ${seed}"
    label 'process_single'
    // The CPU image of containers/Dockerfile.cpu (containers/README.md), used with
    // -profile docker, singularity or apptainer
    container 'virnucpro-nf-cpu:0.1.0'
    // Always run: the folder may have changed since the last run, and a rerun is what
    // resumes an interrupted download; files the folder's manifest vouches for are not
    // fetched again
    cache false

    input:
    // The download folder, filled in place and kept between runs (staged, so that
    // containers see it); it must exist
    path(download_dir)
    // The RefSeq release folder, e.g. 'https://ftp.ncbi.nlm.nih.gov/refseq/release/'
    val(release_url)
    // Seed of the host-file draw (the original's: 42)
    val(seed)
    // 'category=count' entries, in draw order; [] for the original's eight categories
    val(host_files)
    // File names of the release's viral/ folder; [] for viral.1.genomic.gbff.gz
    val(viral_files)

    output:
    path "samplesheet.csv", emit: samplesheet
    path "manifest.tsv", emit: manifest
    tuple val("${task.process}"), val('virnucpro'), eval('software_version.py virnucpro'), topic: versions, emit: versions_virnucpro
    tuple val("${task.process}"), val('python'), eval('software_version.py python'), topic: versions, emit: versions_python

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def host_args = host_files.collect { entry -> "--host-files '${entry}'" }.join(' ')
    def viral_args = viral_files.collect { name -> "--viral-files '${name}'" }.join(' ')
    // The samplesheet is written here with absolute paths into the download folder,
    // so that it can be published and read anywhere; the folder keeps the manifest
    """
    download_refseq.py \\
        --threads '${task.cpus}' \\
        --output-dir '${download_dir}' \\
        --release-url '${release_url}' \\
        --seed '${seed}' \\
        ${host_args} \\
        ${viral_args} \\
        --samplesheet samplesheet.csv \\
        --absolute-paths \\
        ${args}
    cp '${download_dir}/manifest.tsv' manifest.tsv
    """

    stub:
    """
    printf 'sample,sequences,label\\n' > samplesheet.csv
    printf 'file\\turl\\tlabel\\tcategory\\tbytes\\tsha256\\tstatus\\tlisted\\tasked\\trelease\\n' > manifest.tsv
    """
}
