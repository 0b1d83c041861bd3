"""The file layer: sequence, feature and table files, their contracts, all-or-nothing outputs."""
