# ferry_add_flow_module(<name> <source>...)
#
# Builds a flow module (a shared object holding a FERRY_FLOWS block) that `ferry` can load,
# e.g. through Module storage or `ferry run --module`. The module links libferry and is
# named lib<name>.so.
function(ferry_add_flow_module name)
  if(ARGC LESS 2)
    message(FATAL_ERROR "ferry_add_flow_module(${name}) needs at least one source file")
  endif()
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE ferry::ferry)
  target_compile_features(${name} PRIVATE cxx_std_20)
  set_target_properties(${name} PROPERTIES PREFIX "lib" POSITION_INDEPENDENT_CODE ON)
endfunction()
