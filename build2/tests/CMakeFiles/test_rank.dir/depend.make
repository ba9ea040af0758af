# Empty dependencies file for test_rank.
# This may be replaced when dependencies are built.
