# Empty dependencies file for bench_rank_serve.
# This may be replaced when dependencies are built.
