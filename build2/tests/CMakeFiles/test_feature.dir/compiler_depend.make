# Empty compiler generated dependencies file for test_feature.
# This may be replaced when dependencies are built.
