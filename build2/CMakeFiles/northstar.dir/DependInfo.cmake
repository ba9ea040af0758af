
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/ns-rank/src/cli/cli.c" "CMakeFiles/northstar.dir/src/cli/cli.c.o" "gcc" "CMakeFiles/northstar.dir/src/cli/cli.c.o.d"
  "/work/ns-rank/src/cli/cmd_rank.c" "CMakeFiles/northstar.dir/src/cli/cmd_rank.c.o" "gcc" "CMakeFiles/northstar.dir/src/cli/cmd_rank.c.o.d"
  "/work/ns-rank/src/cli/cmd_safetensors.c" "CMakeFiles/northstar.dir/src/cli/cmd_safetensors.c.o" "gcc" "CMakeFiles/northstar.dir/src/cli/cmd_safetensors.c.o.d"
  "/work/ns-rank/src/cli/cmd_version.c" "CMakeFiles/northstar.dir/src/cli/cmd_version.c.o" "gcc" "CMakeFiles/northstar.dir/src/cli/cmd_version.c.o.d"
  "/work/ns-rank/src/cli/main.c" "CMakeFiles/northstar.dir/src/cli/main.c.o" "gcc" "CMakeFiles/northstar.dir/src/cli/main.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/ns-rank/build2/CMakeFiles/northstar_lib.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
