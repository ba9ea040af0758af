file(REMOVE_RECURSE
  "libnorthstar.a"
)
