# Empty dependencies file for test_rank_adult.
# This may be replaced when dependencies are built.
