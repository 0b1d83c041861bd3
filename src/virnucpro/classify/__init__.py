"""Classification: the classifier, its training and evaluation, the calls and their tables."""
