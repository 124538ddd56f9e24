# Installation of everything besides the three programs (their
# install(TARGETS) rules are in the top-level CMakeLists.txt, which includes
# this file): the certificate tool, example configuration, systemd units, a
# sysusers.d entry for the service user, and the man pages.
#
#   cmake --install BUILD                        # /usr/local/... and /etc/fedlead
#   DESTDIR=/tmp/stage cmake --install BUILD     # the same tree under /tmp/stage
#   cmake --install BUILD --prefix /opt/fedlead  # units and man pages follow the prefix
#
# Units and man pages name installed paths (ExecStart, FILES), so they are
# templates (*.in) filled in at install time, not at configure time: that way
# `cmake --install --prefix DIR` yields units that start DIR/bin/... .
#
# Configuration goes to FL_SYSCONFDIR, an absolute directory that does not
# follow the prefix (GNUInstallDirs would say /usr/local/etc for the default
# prefix; a daemon's configuration belongs in /etc). Configuration files that
# already exist there are kept: reinstalling never overwrites an edited
# configuration. Pristine copies always go to share/doc/fedlead/examples.

set(FL_SYSCONFDIR "/etc/fedlead"
    CACHE PATH "Absolute directory for fedlead's configuration files (not under the prefix)")
if(NOT IS_ABSOLUTE "${FL_SYSCONFDIR}")
  message(FATAL_ERROR "FL_SYSCONFDIR must be an absolute path, not \"${FL_SYSCONFDIR}\"")
endif()

install(PROGRAMS ${CMAKE_CURRENT_LIST_DIR}/fedlead-ca DESTINATION bin)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/config/coordinator.conf
              ${CMAKE_CURRENT_LIST_DIR}/config/node.conf
              ${CMAKE_CURRENT_LIST_DIR}/config/score-serve.conf
        DESTINATION share/doc/fedlead/examples)

# Values known at configure time, handed to the install-time code below.
install(CODE "
set(FL_DEPLOY_SRC \"${CMAKE_CURRENT_LIST_DIR}\")
set(FL_DEPLOY_GEN \"${CMAKE_BINARY_DIR}/deploy-install\")
set(FL_SYSCONFDIR \"${FL_SYSCONFDIR}\")
set(FL_VERSION \"${PROJECT_VERSION}\")
")

# Everything inside the bracket argument runs at install time, where
# CMAKE_INSTALL_PREFIX is the prefix actually installed to (--prefix) and
# file(INSTALL) puts DESTDIR in front of every destination.
install(CODE [[
set(FL_BINDIR "${CMAKE_INSTALL_PREFIX}/bin")
set(FL_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
set(FL_MANDIR "${CMAKE_INSTALL_PREFIX}/share/man")
set(FL_DOCDIR "${CMAKE_INSTALL_PREFIX}/share/doc/fedlead")

# fl_install_template(SRC DEST_DIR NAME): SRC with @FL_BINDIR@,
# @FL_SYSCONFDIR@, @FL_UNITDIR@, @FL_MANDIR@, @FL_DOCDIR@ and @FL_VERSION@
# filled in, installed as DEST_DIR/NAME with mode 0644.
function(fl_install_template src dest name)
  configure_file("${FL_DEPLOY_SRC}/${src}" "${FL_DEPLOY_GEN}/${name}" @ONLY)
  file(INSTALL "${FL_DEPLOY_GEN}/${name}" DESTINATION "${dest}"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endfunction()

fl_install_template(systemd/fedlead-coordinator.service.in "${FL_UNITDIR}"
                    fedlead-coordinator.service)
fl_install_template(systemd/fedlead-node.service.in "${FL_UNITDIR}" fedlead-node.service)
fl_install_template(systemd/fedlead-score-serve.service.in "${FL_UNITDIR}"
                    fedlead-score-serve.service)
fl_install_template(systemd/fedlead.sysusers.in "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d"
                    fedlead.conf)
foreach(page fedlead-coordinator.1 fedlead-node.1 fedlead-score.1 fedlead-score-serve.1 fedlead-ca.1
             fedlead.conf.5)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section "${page}")
  fl_install_template(man/${page}.in "${FL_MANDIR}/man${section}" ${page})
endforeach()

# The example configurations name /etc/fedlead; a different FL_SYSCONFDIR
# is written into the installed copies. An existing file is an operator's
# configuration and is left alone.
foreach(conf coordinator.conf node.conf score-serve.conf)
  if(EXISTS "$ENV{DESTDIR}${FL_SYSCONFDIR}/${conf}")
    message(STATUS "Keeping: $ENV{DESTDIR}${FL_SYSCONFDIR}/${conf} (exists; the example is in "
                   "${CMAKE_INSTALL_PREFIX}/share/doc/fedlead/examples)")
    continue()
  endif()
  file(READ "${FL_DEPLOY_SRC}/config/${conf}" text)
  string(REPLACE "/etc/fedlead" "${FL_SYSCONFDIR}" text "${text}")
  file(WRITE "${FL_DEPLOY_GEN}/${conf}" "${text}")
  file(INSTALL "${FL_DEPLOY_GEN}/${conf}" DESTINATION "${FL_SYSCONFDIR}"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()
]])
