# txl's dependencies, found the same way when txl is built and when a project finds an installed
# txl (txlConfig.cmake includes this file). Two stacks are supported:
#   Debian 12: xtensor 0.24, xtl 0.7, xsimd 8, xtensor-blas 0.20 (C++17);
#   current:   xtensor 0.27, xtl 0.8, xsimd 14, xtensor-blas 0.23 (xtensor asks for C++20).
# xtensor-blas 0.23's own CMakeLists wants CMake 3.29, so it is often installed as headers only:
# then an imported target `xtensor-blas` stands in for its package.
set(BLA_VENDOR OpenBLAS)
find_package(xtensor REQUIRED)
if(xtensor_VERSION VERSION_GREATER_EQUAL 0.26)
  # Only xtensor-blas 0.23 or later fits xtensor 0.26+ (Debian's 0.20 may be installed beside).
  find_package(xtensor-blas 0.23 CONFIG QUIET)
else()
  find_package(xtensor-blas CONFIG QUIET)
endif()
if(NOT TARGET xtensor-blas)
  get_target_property(_txl_xtensor_include xtensor INTERFACE_INCLUDE_DIRECTORIES)
  find_path(TXL_XTENSOR_BLAS_INCLUDE_DIR xtensor-blas/xblas.hpp HINTS ${_txl_xtensor_include})
  if(NOT TXL_XTENSOR_BLAS_INCLUDE_DIR)
    message(FATAL_ERROR "txl needs xtensor-blas (Debian: libxtensor-blas-dev); neither its CMake package "
                        "nor its headers (xtensor-blas/xblas.hpp) were found")
  endif()
  add_library(xtensor-blas INTERFACE IMPORTED)
  set_target_properties(xtensor-blas PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${TXL_XTENSOR_BLAS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES xtensor)
endif()
find_package(BLAS REQUIRED)
find_package(OpenMP REQUIRED)
find_package(Threads REQUIRED)
