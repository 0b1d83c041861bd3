"""Training data as the original VirNucPro got it: RefSeq release files, chosen as its
download_data.py chose them, downloaded resumably and checked, with a samplesheet.

One concept per module: ``listing`` reads a release folder's HTML page,
``sampling`` makes the seeded choice, ``fetch`` downloads and checks one file,
``manifest`` and ``samplesheet`` write what was fetched, and ``refseq`` runs it all.
"""
