# Empty dependencies file for northstar_lib.
# This may be replaced when dependencies are built.
