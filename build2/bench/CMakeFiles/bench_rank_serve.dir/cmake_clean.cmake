file(REMOVE_RECURSE
  "CMakeFiles/bench_rank_serve.dir/bench_rank_serve.c.o"
  "CMakeFiles/bench_rank_serve.dir/bench_rank_serve.c.o.d"
  "bench_rank_serve"
  "bench_rank_serve.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/bench_rank_serve.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
