# Empty dependencies file for test_rank_cli.
# This may be replaced when dependencies are built.
