"""The campaign's progress: the journal of changes, its daily rollup, and the figures read from it."""
