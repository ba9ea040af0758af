# modules.cmake — the layers of docs/ARCHITECTURE.md as CMake targets.
#
# A layer is a name and the layers it stands on (ns_layer). A module is a
# folder src/<name>/ in one layer (ns_module): its sources become the static
# library ns_<name>; its public headers (include/northstar/<h>) are claimed
# by it and copied nowhere: each module gets a folder of links,
# build/api/<name>/northstar/, holding just the headers it owns. A module
# links, and so sees the headers of, every module of the layers below its
# own, plus the modules of its own layer it names under USES (declared
# before it, so the arrows inside a layer go one way). Nothing else is on
# its include path: not include/, not src/. An include that crosses a wall
# upward, or sideways without a USES, fails to compile ("No such file");
# a module's private headers are reached by their plain name from its own
# folder ("hnsw_int.h"), never from another.
#
#   ns_layer(NAME [BELOW layer...])
#   ns_module(NAME LAYER layer [USES module...] [HEADERS file...] [LIBS lib...])
#   ns_modules_check()   after the last module: every public header has an owner
#   ns_modules_tests()   ctest cases layers.<module>.headers and .links (below)
#
# A module with no sources yet is an INTERFACE target (a folder with a
# README waiting for its first file).

set(NS_API_DIR ${CMAKE_BINARY_DIR}/api)
set_property(GLOBAL PROPERTY NS_MODULES "")
set_property(GLOBAL PROPERTY NS_HEADERS_CLAIMED "")

function(ns_layer name)
  cmake_parse_arguments(L "" "" "BELOW" ${ARGN})
  set(below "")
  foreach(b ${L_BELOW})
    get_property(known GLOBAL PROPERTY NS_LAYER_${b}_DEFINED)
    if(NOT known)
      message(FATAL_ERROR "layer ${name}: BELOW ${b} is not a layer declared before it")
    endif()
    get_property(bb GLOBAL PROPERTY NS_LAYER_${b}_BELOW)
    list(APPEND below ${b} ${bb})
  endforeach()
  list(REMOVE_DUPLICATES below)
  set_property(GLOBAL PROPERTY NS_LAYER_${name}_DEFINED ON)
  set_property(GLOBAL PROPERTY NS_LAYER_${name}_BELOW "${below}")
  set_property(GLOBAL PROPERTY NS_LAYER_${name}_MODULES "")
endfunction()

# The modules a module of `layer` may use: every module of the layers below,
# then the same-layer modules named in `uses` with what they use.
function(ns__module_deps out layer uses)
  get_property(below GLOBAL PROPERTY NS_LAYER_${layer}_BELOW)
  set(deps "")
  foreach(b ${below})
    get_property(mods GLOBAL PROPERTY NS_LAYER_${b}_MODULES)
    list(APPEND deps ${mods})
  endforeach()
  foreach(u ${uses})
    get_property(ulayer GLOBAL PROPERTY NS_MODULE_${u}_LAYER)
    if(NOT ulayer STREQUAL layer)
      message(FATAL_ERROR "USES ${u}: not a module of layer ${layer} declared before this one"
                          " (modules of lower layers are used without naming them)")
    endif()
    get_property(udeps GLOBAL PROPERTY NS_MODULE_${u}_DEPS)
    list(APPEND deps ${u} ${udeps})
  endforeach()
  list(REMOVE_DUPLICATES deps)
  set(${out} "${deps}" PARENT_SCOPE)
endfunction()

function(ns_module name)
  cmake_parse_arguments(M "" "LAYER" "USES;HEADERS;LIBS" ${ARGN})
  get_property(known GLOBAL PROPERTY NS_LAYER_${M_LAYER}_DEFINED)
  if(NOT known)
    message(FATAL_ERROR "module ${name}: LAYER '${M_LAYER}' is not a declared layer")
  endif()
  ns__module_deps(deps ${M_LAYER} "${M_USES}")
  set(api ${NS_API_DIR}/${name})
  file(REMOVE_RECURSE ${api})
  file(MAKE_DIRECTORY ${api}/northstar)
  foreach(h ${M_HEADERS})
    set(src ${PROJECT_SOURCE_DIR}/include/northstar/${h})
    if(NOT EXISTS ${src})
      message(FATAL_ERROR "module ${name}: header include/northstar/${h} does not exist")
    endif()
    get_property(claimed GLOBAL PROPERTY NS_HEADER_${h}_OWNER)
    if(claimed)
      message(FATAL_ERROR "header ${h} is claimed by both ${claimed} and ${name}")
    endif()
    set_property(GLOBAL PROPERTY NS_HEADER_${h}_OWNER ${name})
    set_property(GLOBAL APPEND PROPERTY NS_HEADERS_CLAIMED ${h})
    file(CREATE_LINK ${src} ${api}/northstar/${h} SYMBOLIC)
  endforeach()
  set(dep_targets "")
  foreach(d ${deps})
    list(APPEND dep_targets ns_${d})
  endforeach()
  file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.c)
  if(srcs)
    add_library(ns_${name} STATIC ${srcs})
    set_target_properties(ns_${name} PROPERTIES OUTPUT_NAME northstar_${name})
    target_include_directories(ns_${name} PUBLIC ${api} PRIVATE ${PROJECT_SOURCE_DIR}/src/${name})
    target_link_libraries(ns_${name} PUBLIC ${dep_targets} ${M_LIBS})
  else()
    add_library(ns_${name} INTERFACE)
    target_include_directories(ns_${name} INTERFACE ${api})
    target_link_libraries(ns_${name} INTERFACE ${dep_targets} ${M_LIBS})
  endif()
  set_property(GLOBAL PROPERTY NS_MODULE_${name}_LAYER ${M_LAYER})
  set_property(GLOBAL PROPERTY NS_MODULE_${name}_DEPS "${deps}")
  set_property(GLOBAL PROPERTY NS_MODULE_${name}_HAS_SOURCES "${srcs}")
  set_property(GLOBAL PROPERTY NS_MODULE_${name}_HEADERS "${M_HEADERS}")
  set_property(GLOBAL APPEND PROPERTY NS_LAYER_${M_LAYER}_MODULES ${name})
  set_property(GLOBAL APPEND PROPERTY NS_MODULES ${name})
endfunction()

# Every public header belongs to exactly one module.
function(ns_modules_check)
  file(GLOB all RELATIVE ${PROJECT_SOURCE_DIR}/include/northstar CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/include/northstar/*)
  get_property(claimed GLOBAL PROPERTY NS_HEADERS_CLAIMED)
  foreach(h ${all})
    list(FIND claimed ${h} at)
    if(at EQUAL -1)
      message(FATAL_ERROR "include/northstar/${h} belongs to no module: add it to a module's HEADERS in src/CMakeLists.txt")
    endif()
  endforeach()
endfunction()

# Two ctest cases per module hold the walls in the test suite too:
#   layers.<m>.headers  each header the module owns compiles alone on the
#                       module's include path, and every header of a module it
#                       may not use is out of reach (cmake/check_headers.cmake);
#   layers.<m>.links    every ns_ symbol the module's library needs is
#                       defined by the module or the modules it may use, so
#                       no upward call hides behind a hand-written prototype
#                       (cmake/check_links.cmake);
# and one for the whole house:
#   layers.names        every public function has its header's prefix, and no
#                       prefix lives in two headers (cmake/check_names.cmake).
function(ns_modules_tests)
  add_test(NAME layers.names COMMAND ${CMAKE_COMMAND} -DDIR=${PROJECT_SOURCE_DIR}/include/northstar
    -P ${PROJECT_SOURCE_DIR}/cmake/check_names.cmake)
  set_tests_properties(layers.names PROPERTIES LABELS unit TIMEOUT 60)
  get_property(mods GLOBAL PROPERTY NS_MODULES)
  get_property(all GLOBAL PROPERTY NS_HEADERS_CLAIMED)
  foreach(m ${mods})
    get_property(deps GLOBAL PROPERTY NS_MODULE_${m}_DEPS)
    get_property(own GLOBAL PROPERTY NS_MODULE_${m}_HEADERS)
    set(incs ${NS_API_DIR}/${m})
    set(visible ${own})
    set(libs "")
    foreach(d ${deps})
      list(APPEND incs ${NS_API_DIR}/${d})
      get_property(dh GLOBAL PROPERTY NS_MODULE_${d}_HEADERS)
      list(APPEND visible ${dh})
      get_property(dsrc GLOBAL PROPERTY NS_MODULE_${d}_HAS_SOURCES)
      if(dsrc)
        list(APPEND libs $<TARGET_FILE:ns_${d}>)
      endif()
    endforeach()
    set(hidden ${all})
    if(visible)
      list(REMOVE_ITEM hidden ${visible})
    endif()
    set(alone ${own})
    list(FILTER alone EXCLUDE REGEX "\\.inc$")
    string(REPLACE ";" "|" incs_a "${incs}")
    string(REPLACE ";" "|" vis_a "${alone}")
    string(REPLACE ";" "|" hid_a "${hidden}")
    add_test(NAME layers.${m}.headers COMMAND ${CMAKE_COMMAND}
      -DCC=${CMAKE_C_COMPILER} -DMODULE=${m} "-DINCS=${incs_a}" "-DVISIBLE=${vis_a}" "-DHIDDEN=${hid_a}"
      -DWORK=${CMAKE_BINARY_DIR}/test-tmp/layers/${m}
      -P ${PROJECT_SOURCE_DIR}/cmake/check_headers.cmake)
    set_tests_properties(layers.${m}.headers PROPERTIES LABELS unit TIMEOUT 300)
    get_property(msrc GLOBAL PROPERTY NS_MODULE_${m}_HAS_SOURCES)
    if(msrc)
      string(REPLACE ";" "|" libs_a "${libs}")
      add_test(NAME layers.${m}.links COMMAND ${CMAKE_COMMAND}
        -DNM=${CMAKE_NM} -DMODULE=${m} -DLIB=$<TARGET_FILE:ns_${m}> "-DDEPS=${libs_a}"
        -P ${PROJECT_SOURCE_DIR}/cmake/check_links.cmake)
      set_tests_properties(layers.${m}.links PROPERTIES LABELS unit TIMEOUT 120)
    endif()
  endforeach()
endfunction()
