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
