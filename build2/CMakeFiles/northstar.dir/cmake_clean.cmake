file(REMOVE_RECURSE
  "CMakeFiles/northstar.dir/src/cli/cli.c.o"
  "CMakeFiles/northstar.dir/src/cli/cli.c.o.d"
  "CMakeFiles/northstar.dir/src/cli/cmd_rank.c.o"
  "CMakeFiles/northstar.dir/src/cli/cmd_rank.c.o.d"
  "CMakeFiles/northstar.dir/src/cli/cmd_safetensors.c.o"
  "CMakeFiles/northstar.dir/src/cli/cmd_safetensors.c.o.d"
  "CMakeFiles/northstar.dir/src/cli/cmd_version.c.o"
  "CMakeFiles/northstar.dir/src/cli/cmd_version.c.o.d"
  "CMakeFiles/northstar.dir/src/cli/main.c.o"
  "CMakeFiles/northstar.dir/src/cli/main.c.o.d"
  "northstar"
  "northstar.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/northstar.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
