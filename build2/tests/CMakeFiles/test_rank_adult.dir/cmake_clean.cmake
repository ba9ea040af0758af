file(REMOVE_RECURSE
  "CMakeFiles/test_rank_adult.dir/eval/test_rank_adult.c.o"
  "CMakeFiles/test_rank_adult.dir/eval/test_rank_adult.c.o.d"
  "CMakeFiles/test_rank_adult.dir/harness.c.o"
  "CMakeFiles/test_rank_adult.dir/harness.c.o.d"
  "test_rank_adult"
  "test_rank_adult.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_rank_adult.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
