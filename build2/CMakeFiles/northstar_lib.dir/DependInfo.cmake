
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/ns-rank/src/base/containers.c" "CMakeFiles/northstar_lib.dir/src/base/containers.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/containers.c.o.d"
  "/work/ns-rank/src/base/error.c" "CMakeFiles/northstar_lib.dir/src/base/error.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/error.c.o.d"
  "/work/ns-rank/src/base/file.c" "CMakeFiles/northstar_lib.dir/src/base/file.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/file.c.o.d"
  "/work/ns-rank/src/base/log.c" "CMakeFiles/northstar_lib.dir/src/base/log.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/log.c.o.d"
  "/work/ns-rank/src/base/mem.c" "CMakeFiles/northstar_lib.dir/src/base/mem.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/mem.c.o.d"
  "/work/ns-rank/src/base/progress.c" "CMakeFiles/northstar_lib.dir/src/base/progress.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/progress.c.o.d"
  "/work/ns-rank/src/base/rng.c" "CMakeFiles/northstar_lib.dir/src/base/rng.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/rng.c.o.d"
  "/work/ns-rank/src/base/threads.c" "CMakeFiles/northstar_lib.dir/src/base/threads.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/threads.c.o.d"
  "/work/ns-rank/src/base/time.c" "CMakeFiles/northstar_lib.dir/src/base/time.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/base/time.c.o.d"
  "/work/ns-rank/src/feature/data.c" "CMakeFiles/northstar_lib.dir/src/feature/data.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/feature/data.c.o.d"
  "/work/ns-rank/src/feature/reader.c" "CMakeFiles/northstar_lib.dir/src/feature/reader.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/feature/reader.c.o.d"
  "/work/ns-rank/src/feature/spec.c" "CMakeFiles/northstar_lib.dir/src/feature/spec.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/feature/spec.c.o.d"
  "/work/ns-rank/src/feature/transform.c" "CMakeFiles/northstar_lib.dir/src/feature/transform.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/feature/transform.c.o.d"
  "/work/ns-rank/src/rank/io.c" "CMakeFiles/northstar_lib.dir/src/rank/io.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/rank/io.c.o.d"
  "/work/ns-rank/src/rank/metrics.c" "CMakeFiles/northstar_lib.dir/src/rank/metrics.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/rank/metrics.c.o.d"
  "/work/ns-rank/src/rank/model.c" "CMakeFiles/northstar_lib.dir/src/rank/model.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/rank/model.c.o.d"
  "/work/ns-rank/src/rank/pack.c" "CMakeFiles/northstar_lib.dir/src/rank/pack.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/rank/pack.c.o.d"
  "/work/ns-rank/src/rank/score.c" "CMakeFiles/northstar_lib.dir/src/rank/score.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/rank/score.c.o.d"
  "/work/ns-rank/src/rank/train.c" "CMakeFiles/northstar_lib.dir/src/rank/train.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/rank/train.c.o.d"
  "/work/ns-rank/src/tensor/dtype.c" "CMakeFiles/northstar_lib.dir/src/tensor/dtype.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/tensor/dtype.c.o.d"
  "/work/ns-rank/src/tensor/kernels_f32.c" "CMakeFiles/northstar_lib.dir/src/tensor/kernels_f32.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/tensor/kernels_f32.c.o.d"
  "/work/ns-rank/src/tensor/kernels_f64.c" "CMakeFiles/northstar_lib.dir/src/tensor/kernels_f64.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/tensor/kernels_f64.c.o.d"
  "/work/ns-rank/src/tensor/optim.c" "CMakeFiles/northstar_lib.dir/src/tensor/optim.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/tensor/optim.c.o.d"
  "/work/ns-rank/src/tensor/safetensors.c" "CMakeFiles/northstar_lib.dir/src/tensor/safetensors.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/tensor/safetensors.c.o.d"
  "/work/ns-rank/src/text/tokenize.c" "CMakeFiles/northstar_lib.dir/src/text/tokenize.c.o" "gcc" "CMakeFiles/northstar_lib.dir/src/text/tokenize.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
