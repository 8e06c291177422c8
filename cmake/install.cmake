# Installation (make install / cmake --install), the pkg-config file, the
# CMake package, man pages, bash completion and the Debian packages (CPack).
# Paths follow GNUInstallDirs; everything installed is relocatable: the
# program finds its library through RPATH $ORIGIN/../lib and the shipped
# model from its own path, sonodream.pc through ${pcfiledir}, the CMake
# package through its own location.
include(CMakePackageConfigHelpers)

set(SONO_PKGDATADIR ${CMAKE_INSTALL_DATADIR}/sonodream)
set(SONO_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/sonodream)

# Where the program looks for the shipped model (src/cli/cli_util.c).
file(RELATIVE_PATH SONO_DATADIR_FROM_BINDIR ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_DATADIR}/sonodream)
target_compile_definitions(sonodream_cli PRIVATE SONO_DATADIR_FROM_BINDIR="${SONO_DATADIR_FROM_BINDIR}"
                           SONO_FULL_PKGDATADIR="${CMAKE_INSTALL_FULL_DATADIR}/sonodream"
                           SONO_BUILD_TREE="${PROJECT_BINARY_DIR}" SONO_SOURCE_TREE="${PROJECT_SOURCE_DIR}")

# The installed program finds libsonodream.so next to it unless the library
# directory is one the dynamic loader searches anyway (a /usr install).
list(FIND CMAKE_C_IMPLICIT_LINK_DIRECTORIES ${CMAKE_INSTALL_FULL_LIBDIR} libdir_is_system)
if(libdir_is_system EQUAL -1)
  file(RELATIVE_PATH libdir_from_bindir ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
  set_target_properties(sonodream_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${libdir_from_bindir}")
endif()

set_target_properties(sonodream PROPERTIES EXPORT_NAME sonodream_static)
set_target_properties(sonodream_shared PROPERTIES EXPORT_NAME sonodream)

install(TARGETS sonodream_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)
install(TARGETS sonodream_shared EXPORT sonodreamTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS sonodream EXPORT sonodreamStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sonodream DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.h")

# sonodream.pc: prefix relative to the file itself.
file(RELATIVE_PATH SONO_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" SONO_PC_TO_PREFIX "${SONO_PC_TO_PREFIX}")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(SONO_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(SONO_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/sonodream.pc.in ${PROJECT_BINARY_DIR}/sonodream.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sonodream.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# CMake package: find_package(sonodream) -> sonodream::sonodream.
install(EXPORT sonodreamTargets NAMESPACE sonodream:: DESTINATION ${SONO_CMAKEDIR} COMPONENT dev)
install(EXPORT sonodreamStaticTargets NAMESPACE sonodream:: DESTINATION ${SONO_CMAKEDIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sonodreamConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/sonodreamConfig.cmake INSTALL_DESTINATION ${SONO_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sonodreamConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sonodreamConfig.cmake ${PROJECT_BINARY_DIR}/sonodreamConfigVersion.cmake
        DESTINATION ${SONO_CMAKEDIR} COMPONENT dev)

# The shipped models (the standard one, and the robust one a class dream
# takes as its ensemble) and the example sounds.
install(FILES ${PROJECT_SOURCE_DIR}/models/us8k-seed.model ${PROJECT_SOURCE_DIR}/models/README.md
              ${PROJECT_SOURCE_DIR}/models/us8k-seed-training.png ${PROJECT_SOURCE_DIR}/models/us8k-robust.model
              ${PROJECT_SOURCE_DIR}/models/us8k-robust-training.png
        DESTINATION ${SONO_PKGDATADIR}/models COMPONENT bin)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION ${SONO_PKGDATADIR}/examples COMPONENT bin)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT bin)

# make uninstall: removes what the install manifest lists.
add_custom_target(uninstall
  COMMAND ${CMAKE_COMMAND} -DMANIFEST=${PROJECT_BINARY_DIR}/install_manifest.txt
          -P ${PROJECT_SOURCE_DIR}/cmake/uninstall.cmake
  COMMENT "Removing the files listed in install_manifest.txt")

# Man pages: help2man over the program's own --help (scripts/gen-man), built
# with the program; without help2man the build says so and installs none.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/man/sonodream.1.gz
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/gen-man $<TARGET_FILE:sonodream_cli> ${PROJECT_BINARY_DIR}/man
    DEPENDS sonodream_cli ${PROJECT_SOURCE_DIR}/scripts/gen-man
    COMMENT "Man pages from --help (help2man)")
  add_custom_target(man ALL DEPENDS ${PROJECT_BINARY_DIR}/man/sonodream.1.gz)
  install(DIRECTORY ${PROJECT_BINARY_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT bin
          FILES_MATCHING PATTERN "*.1.gz")
else()
  message(WARNING "help2man not found: no man pages (scripts/install-deps installs it)")
endif()

install(FILES ${PROJECT_SOURCE_DIR}/completions/sonodream.bash RENAME sonodream
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT bin)

# Tests of the installed library and program (tests/install/).
set(SONO_INSTALL_TEST_ENV "SONO_SOURCE_DIR=${PROJECT_SOURCE_DIR};SONO_BUILD_DIR=${PROJECT_BINARY_DIR}"
    "SONO_BINARY=$<TARGET_FILE:sonodream_cli>;SONO_SHARED_LIBRARY=$<TARGET_FILE:sonodream_shared>"
    "SONO_MAN_DIR=${PROJECT_BINARY_DIR}/man;OMP_NUM_THREADS=2")
set(SONO_INSTALL_TESTS exports headers man_options completion)
# An outside program cannot link a sanitizer-built library without the
# sanitizer runtime: the installed-tree test runs in plain builds only.
if(NOT SONO_SANITIZE)
  list(APPEND SONO_INSTALL_TESTS installed)
endif()
foreach(install_test ${SONO_INSTALL_TESTS})
  add_test(NAME install_${install_test} COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/${install_test}.sh)
  set_tests_properties(install_${install_test} PROPERTIES ENVIRONMENT "${SONO_INSTALL_TEST_ENV}" TIMEOUT 300)
endforeach()

# Debian packages (make deb: CPack, configured for /usr without
# -march=native): libsonodream0 (the shared library), sonodream (program, man
# pages, completion, shipped model and examples), libsonodream-dev (headers,
# static library, sonodream.pc, CMake package). Runtime dependencies come
# from dpkg-shlibdeps. The first line of each description is its summary.
set(CPACK_PACKAGE_NAME sonodream)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Whoever publishes the packages sets a real address (lintian flags this one).
set(SONO_DEB_MAINTAINER "sonodream maintainers <sonodream@localhost>" CACHE STRING
    "Maintainer field of the Debian packages")
set(CPACK_PACKAGE_CONTACT ${SONO_DEB_MAINTAINER})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib bin dev)
set(CPACK_COMPONENT_BIN_DEPENDS lib)
set(CPACK_COMPONENT_DEV_DEPENDS lib)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libsonodream0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # only libsonodream0 holds a library
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/cmake/debian/triggers)
set(CPACK_COMPONENT_LIB_DESCRIPTION "DeepDream for sounds - shared library
libsonodream trains convolutional networks on log-mel spectrograms of
recordings and runs them backwards (DeepDream) to turn what a layer or class
hears into sound.")
set(CPACK_DEBIAN_BIN_PACKAGE_NAME sonodream)
set(CPACK_DEBIAN_BIN_PACKAGE_SECTION sound)
set(CPACK_COMPONENT_BIN_DESCRIPTION "DeepDream for sounds - command-line program
sonodream prepares log-mel features from labelled recordings, trains and
evaluates a convolutional classifier, classifies sounds and dreams them:
gradient ascent on a spectrogram makes a layer, channel or class respond
more, and the dream is turned back into sound. Ships a model trained on
UrbanSound8K and example sounds.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libsonodream-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libsndfile1-dev, libsoxr-dev, libfftw3-dev, libcjson-dev, libcairo2-dev, libopenblas-dev, libgomp1")
set(CPACK_COMPONENT_DEV_DESCRIPTION "DeepDream for sounds - development files
Headers, static library, pkg-config file (sonodream.pc) and CMake package
(find_package(sonodream)) for programs using libsonodream.")
# Each package's copyright and changelog.
string(TIMESTAMP SONO_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(component lib bin dev)
  string(TOUPPER ${component} upper)
  set(SONO_DEB_PACKAGE ${CPACK_DEBIAN_${upper}_PACKAGE_NAME})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/changelog.in
                 ${PROJECT_BINARY_DIR}/debian/${SONO_DEB_PACKAGE}/changelog.Debian @ONLY)
  install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/copyright
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${SONO_DEB_PACKAGE} COMPONENT ${component}
          EXCLUDE_FROM_ALL)
  install(CODE "execute_process(COMMAND gzip -9nf \"${PROJECT_BINARY_DIR}/debian/${SONO_DEB_PACKAGE}/changelog.Debian\" -c
                OUTPUT_FILE \"${PROJECT_BINARY_DIR}/debian/${SONO_DEB_PACKAGE}/changelog.Debian.gz\")"
          COMPONENT ${component} EXCLUDE_FROM_ALL)
  install(FILES ${PROJECT_BINARY_DIR}/debian/${SONO_DEB_PACKAGE}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${SONO_DEB_PACKAGE} COMPONENT ${component}
          EXCLUDE_FROM_ALL)
endforeach()
include(CPack)
