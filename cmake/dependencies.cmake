# Every dependency comes from a Debian 12 package (scripts/setup installs them).
find_package(OpenMP REQUIRED)
find_package(benchmark REQUIRED)            # libbenchmark-dev
find_package(fmt REQUIRED)                  # libfmt-dev
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)  # libboost-program-options-dev
find_package(nlohmann_json REQUIRED)        # nlohmann-json3-dev
find_package(dnnl CONFIG REQUIRED)          # libdnnl-dev (oneDNN)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)  # libopenblas-openmp-dev
pkg_check_modules(PAPI REQUIRED IMPORTED_TARGET papi)          # libpapi-dev
add_library(ffnbench::openblas ALIAS PkgConfig::OPENBLAS)
add_library(ffnbench::papi ALIAS PkgConfig::PAPI)

# likwid (Debian package "likwid") ships headers and the library but no pkg-config file.
find_path(LIKWID_INCLUDE_DIR likwid.h REQUIRED)
find_library(LIKWID_LIBRARY likwid REQUIRED)
add_library(ffnbench_likwid INTERFACE)
target_include_directories(ffnbench_likwid INTERFACE ${LIKWID_INCLUDE_DIR})
target_link_libraries(ffnbench_likwid INTERFACE ${LIKWID_LIBRARY})
add_library(ffnbench::likwid ALIAS ffnbench_likwid)

# valgrind's client requests (callgrind.h) bracket kernels for the cachesim backend.
find_path(VALGRIND_INCLUDE_DIR valgrind/callgrind.h REQUIRED)

# BLIS (libblis-openmp-dev), the OpenMP flavour. It exports the same sgemm_/cblas_* symbols as
# OpenBLAS, so it is not linked: variants/common/blis.cpp dlopens this file (RTLD_LOCAL) and
# compiles against its blis.h alone (not on any other file's include path: its cblas.h would
# shadow OpenBLAS's).
find_path(BLIS_INCLUDE_DIR blis.h PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/blis-openmp NO_DEFAULT_PATH REQUIRED)
find_file(BLIS_LIBRARY libblis.so.4 PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/blis-openmp NO_DEFAULT_PATH REQUIRED)

# libtorch (libtorch-dev) for gemm_ffn impl=libtorch: AUTO (the default) builds it wherever it is
# found, decided again at every configure, so a build folder configured before libtorch-dev was
# installed picks it up; ON requires it, OFF leaves it out. Its headers and libraries go into one
# module only (libffnbench_torch.so, CMakeLists.txt), which the executables load when a libtorch
# kernel is built.
find_package(Torch QUIET)
set(FFNBENCH_LIBTORCH AUTO CACHE STRING "Build gemm_ffn impl=libtorch (PyTorch's C++ frontend, Debian libtorch-dev): AUTO, ON or OFF")
set_property(CACHE FFNBENCH_LIBTORCH PROPERTY STRINGS AUTO ON OFF)
if(FFNBENCH_LIBTORCH STREQUAL "AUTO")
  set(FFNBENCH_WITH_LIBTORCH ${Torch_FOUND})
elseif(FFNBENCH_LIBTORCH)
  if(NOT Torch_FOUND)
    message(FATAL_ERROR "FFNBENCH_LIBTORCH=ON but libtorch was not found (Debian: apt-get install libtorch-dev)")
  endif()
  set(FFNBENCH_WITH_LIBTORCH ON)
else()
  set(FFNBENCH_WITH_LIBTORCH OFF)
endif()
if(FFNBENCH_WITH_LIBTORCH)
  find_library(TORCH_CPU_LIBRARY torch_cpu REQUIRED)
  find_library(C10_LIBRARY c10 REQUIRED)
  set(FFNBENCH_TORCH_LINK ${TORCH_LIBRARY} ${TORCH_CPU_LIBRARY} ${C10_LIBRARY})
  # TorchConfig lists /usr/include itself: as a -I it would break libstdc++'s #include_next.
  set(FFNBENCH_TORCH_INCLUDE_DIRS ${TORCH_INCLUDE_DIRS})
  list(REMOVE_ITEM FFNBENCH_TORCH_INCLUDE_DIRS /usr/include)
  message(STATUS "ffnbench: impl=libtorch built against ${TORCH_LIBRARY}")
else()
  message(STATUS "ffnbench: impl=libtorch not built (FFNBENCH_LIBTORCH=${FFNBENCH_LIBTORCH}, libtorch found: ${Torch_FOUND})")
endif()
