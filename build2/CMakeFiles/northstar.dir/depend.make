# Empty dependencies file for northstar.
# This may be replaced when dependencies are built.
