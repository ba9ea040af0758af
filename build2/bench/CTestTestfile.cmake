# CMake generated Testfile for 
# Source directory: /work/ns-rank/bench
# Build directory: /work/ns-rank/build2/bench
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
