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
                           SONO_FULL_PKGDATADIR="${CMAKE_INSTALL_FULL_DATADIR}/sonodream")

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

# The shipped model and the example sounds.
install(FILES ${PROJECT_SOURCE_DIR}/models/us8k-seed.model ${PROJECT_SOURCE_DIR}/models/README.md
              ${PROJECT_SOURCE_DIR}/models/us8k-seed-training.png
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
set(SONO_INSTALL_TESTS exports headers man_options)
# An outside program cannot link a sanitizer-built library without the
# sanitizer runtime: the installed-tree test runs in plain builds only.
if(NOT SONO_SANITIZE)
  list(APPEND SONO_INSTALL_TESTS installed)
endif()
foreach(install_test ${SONO_INSTALL_TESTS})
  add_test(NAME install_${install_test} COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/${install_test}.sh)
  set_tests_properties(install_${install_test} PROPERTIES ENVIRONMENT "${SONO_INSTALL_TEST_ENV}" TIMEOUT 300)
endforeach()
