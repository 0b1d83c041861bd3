/*
 * compare: everything train does (one classifier per protein embedder, all on
 * the same DNA features, split, MLP and seed), then evaluate each classifier on
 * the same test set, benchmark each embedder's speed on the same frames, and
 * write one comparison table and report against the baseline embedder.
 */

include { EVALUATE_CLASSIFIER } from '../modules/local/evaluate_classifier/main'
include { BENCHMARK_EMBEDDER  } from '../modules/local/benchmark_embedder/main'
include { COMPARE_EMBEDDERS   } from '../modules/local/compare_embedders/main'
include { modelFolder         } from '../subworkflows/local/embed_and_merge/main'
include { TRAIN               } from './train'

workflow COMPARE {
    take:
    genomes    // channel: [ val(meta), path(genome) ], GenBank or FASTA; meta.label is 'viral' or 'host'
    dna_model  // string: registered DNA embedder
    embedders  // list of strings: registered protein embedders to compare (the baseline among them)
    models_dir // path or null: folder of model folders named after the embedders
    hf_home    // path, value channel or []: model cache; [] uses $HF_HOME
    chunk_size // integer: chunk length in bases
    shards_per_task // integer: most shards an embedding task embeds with one model load

    main:
    TRAIN(genomes, dna_model, embedders, models_dir, hf_home, chunk_size, shards_per_task)

    // Each classifier on the same test set, with the features of its embedder
    EVALUATE_CLASSIFIER(
        TRAIN.out.classifiers.join(TRAIN.out.classifier_features, failOnDuplicate: true),
        TRAIN.out.test
    )

    // Speed: every embedder on the same frames, the protein FASTA of the first
    // shard in name order. The benchmarks start once every evaluation (and so
    // every embedding and training task) has finished, and run one at a time
    // (conf/modules.config), so that no other task shares the device while
    // they are timed.
    benchmark_input = TRAIN.out.shards
        .map { meta, _nucleotide, protein -> [meta.shard, protein] }
        .toSortedList { a, b -> a[0] <=> b[0] }
        .map { shards -> shards[0][1] }
    evaluated = EVALUATE_CLASSIFIER.out.evaluation
        .collect()
        .map { _evaluations -> true }
    BENCHMARK_EMBEDDER(
        channel.fromList(embedders)
            .combine(evaluated)
            .map { embedder, _evaluated -> [embedder, modelFolder(models_dir, embedder)] },
        benchmark_input,
        hf_home
    )

    // One table: evaluations and benchmarks in embedder order, so that the
    // task's inputs (and -resume) do not depend on the order tasks finish in
    all_evaluations = EVALUATE_CLASSIFIER.out.evaluation
        .toSortedList { a, b -> a[0] <=> b[0] }
        .map { items -> items.collect { item -> item[1] } }
    all_predictions = EVALUATE_CLASSIFIER.out.predictions
        .toSortedList { a, b -> a[0] <=> b[0] }
        .map { items -> items.collect { item -> item[1] } }
    all_benchmarks = BENCHMARK_EMBEDDER.out.benchmark
        .toSortedList { a, b -> a[0] <=> b[0] }
        .map { items -> items.collect { item -> item[1] } }
    all_counts = TRAIN.out.counts
        .toSortedList { a, b -> a[0].id <=> b[0].id }
        .map { samples -> samples.collect { sample -> sample[1] } }
    COMPARE_EMBEDDERS(all_evaluations, all_predictions, all_benchmarks, all_counts)

    emit:
    comparison          = COMPARE_EMBEDDERS.out.tsv                // channel: path(comparison.tsv)
    comparison_markdown = COMPARE_EMBEDDERS.out.markdown           // channel: path(comparison.md)
    report              = COMPARE_EMBEDDERS.out.html               // channel: path(report.html)
    multiqc             = COMPARE_EMBEDDERS.out.multiqc_comparison.mix(COMPARE_EMBEDDERS.out.multiqc_verdicts) // channel: path(virnucpro_comparison_mqc.tsv), path(virnucpro_verdicts_mqc.html)
    evaluations         = EVALUATE_CLASSIFIER.out.evaluation       // channel: [ val(embedder), path(evaluation.json) ]
    test_predictions    = EVALUATE_CLASSIFIER.out.predictions      // channel: [ val(embedder), path(test_predictions.tsv) ]
    benchmarks          = BENCHMARK_EMBEDDER.out.benchmark         // channel: [ val(embedder), path({embedder}.benchmark.json) ]
    classifiers         = TRAIN.out.classifiers                    // channel: [ val(embedder), path({embedder}_classifier) ]
    test                = TRAIN.out.test                           // channel: path(test.tsv)
}
