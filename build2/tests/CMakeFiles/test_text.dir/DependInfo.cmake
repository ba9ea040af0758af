
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/ns-rank/tests/harness.c" "tests/CMakeFiles/test_text.dir/harness.c.o" "gcc" "tests/CMakeFiles/test_text.dir/harness.c.o.d"
  "/work/ns-rank/tests/unit/test_text.c" "tests/CMakeFiles/test_text.dir/unit/test_text.c.o" "gcc" "tests/CMakeFiles/test_text.dir/unit/test_text.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/ns-rank/build2/CMakeFiles/northstar_lib.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
