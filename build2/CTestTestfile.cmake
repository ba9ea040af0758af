# CMake generated Testfile for 
# Source directory: /work/ns-rank
# Build directory: /work/ns-rank/build2
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("tests")
subdirs("bench")
