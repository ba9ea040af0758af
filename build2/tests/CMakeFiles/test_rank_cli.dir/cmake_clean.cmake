file(REMOVE_RECURSE
  "CMakeFiles/test_rank_cli.dir/harness.c.o"
  "CMakeFiles/test_rank_cli.dir/harness.c.o.d"
  "CMakeFiles/test_rank_cli.dir/integ/test_rank_cli.c.o"
  "CMakeFiles/test_rank_cli.dir/integ/test_rank_cli.c.o.d"
  "test_rank_cli"
  "test_rank_cli.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_rank_cli.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
