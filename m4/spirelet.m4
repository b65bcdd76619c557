# spirelet's own autoconf macros.

# SPIRELET_REQUIRE_PKG(VAR, MODULE, DEBIAN-PACKAGE)
# Finds MODULE with pkg-config or stops with the package to install.
AC_DEFUN([SPIRELET_REQUIRE_PKG], [
	PKG_CHECK_MODULES([$1], [$2], [],
	    [AC_MSG_ERROR([$2 not found: install the Debian package $3])])
])

# SPIRELET_REQUIRE_LIB(VAR, LIB, FUNCTION, HEADER, DEBIAN-PACKAGE)
# For libraries that ship no .pc file.
AC_DEFUN([SPIRELET_REQUIRE_LIB], [
	AC_CHECK_HEADER([$4], [],
	    [AC_MSG_ERROR([$4 not found: install the Debian package $5])])
	AC_CHECK_LIB([$2], [$3], [$1_LIBS="-l$2"],
	    [AC_MSG_ERROR([lib$2 not found: install the Debian package $5])])
	AC_SUBST([$1_LIBS])
])

# SPIRELET_WARNINGS: the strict warning set, each flag kept only if the
# compiler takes it.
AC_DEFUN([SPIRELET_WARNINGS], [
	WARN_CFLAGS=""
	for flag in -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
	    -Wmissing-declarations -Wshadow -Wpointer-arith -Wcast-qual \
	    -Wsign-compare -Wformat=2 -Wundef -Wvla -Wnull-dereference \
	    -Wimplicit-fallthrough -Wno-unused-parameter; do
		AC_MSG_CHECKING([whether $CC accepts $flag])
		save_CFLAGS="$CFLAGS"
		CFLAGS="$CFLAGS -Werror $flag"
		AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
		    [WARN_CFLAGS="$WARN_CFLAGS $flag"; AC_MSG_RESULT([yes])],
		    [AC_MSG_RESULT([no])])
		CFLAGS="$save_CFLAGS"
	done
	AC_SUBST([WARN_CFLAGS])
])
