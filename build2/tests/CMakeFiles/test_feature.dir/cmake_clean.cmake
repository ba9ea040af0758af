file(REMOVE_RECURSE
  "CMakeFiles/test_feature.dir/harness.c.o"
  "CMakeFiles/test_feature.dir/harness.c.o.d"
  "CMakeFiles/test_feature.dir/unit/test_feature.c.o"
  "CMakeFiles/test_feature.dir/unit/test_feature.c.o.d"
  "test_feature"
  "test_feature.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_feature.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
