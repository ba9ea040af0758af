file(REMOVE_RECURSE
  "CMakeFiles/test_rank.dir/harness.c.o"
  "CMakeFiles/test_rank.dir/harness.c.o.d"
  "CMakeFiles/test_rank.dir/unit/test_rank.c.o"
  "CMakeFiles/test_rank.dir/unit/test_rank.c.o.d"
  "test_rank"
  "test_rank.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_rank.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
