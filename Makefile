# SPDX-License-Identifier: GPL-2.0
#
#   make                 build zdref.ko for the running kernel
#   make KDIR=DIR        build it against the headers in DIR
#   make strict          the same with W=1 and warnings as errors: the
#                        project's own checks; users' builds (make, DKMS)
#                        warn but never fail on a warning
#   make matrix          build it strict for every kernel of scripts/kernels.conf
#   make kernels         is kernels.conf at the newest ABI of each series?
#   make check           the whole test suite; ends with "N passed, N failed"
#   make try             set up, boot a stock kernel in qemu, show zdref at work
#   make bench           zdref beside anonymous memory and device-dax, per kernel
#   make sparse          the build with sparse on every file (C=2);
#                        make sparse-strict, with W=1 and -Werror
#   make dkms-install    copy the source to /usr/src/zdref-VERSION, then dkms
#                        add, build and install it for the running kernel
#                        (KVER=RELEASE for another one)
#   make dkms-remove     dkms remove it from every kernel, delete the source
#   make deb             build/deb/zdref-dkms_VERSION_all.deb and
#                        zdref-tools_VERSION_amd64.deb (Debian's tooling, in a
#                        bookworm root; lintian clean, reproducible):
#                        apt install ./build/deb/zdref-dkms_*.deb
#   make build-files     print what a build of the module reads (the scripts
#                        copy the tree with it)
#
# DKMS_FLAGS="--dkmstree DIR --installtree DIR ..." and DKMS_SOURCE_TREE=DIR
# (dkms --sourcetree) keep dkms out of the system's directories (make check).

KDIR ?= /lib/modules/$(shell uname -r)/build
KBUILD_ARGS = -C $(KDIR) M=$(CURDIR)
# The project's own builds: the kernel's extra warnings, each an error
# (Kbuild reads ZDREF_WERROR).
STRICT_ARGS = W=1 ZDREF_WERROR=1

VERSION := $(shell cat VERSION)
KVER ?= $(shell uname -r)
DKMS_SOURCE_TREE ?= /usr/src
DKMS_FLAGS ?=
# dkms runs make itself: none of this make's flags and variables for it.
DKMS = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	dkms --sourcetree $(DKMS_SOURCE_TREE) $(DKMS_FLAGS)
DKMS_SRC = $(DKMS_SOURCE_TREE)/zdref-$(VERSION)
# What a build of the module reads (the KUnit suites too: Kbuild builds
# them on a kernel with CONFIG_KUNIT), the one list: scripts/lib.sh's
# copies of the tree read it with make build-files.  What dkms builds
# from: dkms.conf and that.
BUILD_FILES = Kbuild Makefile VERSION src include kunit probes scripts/probe
DKMS_FILES = dkms.conf $(BUILD_FILES)

all: modules

generated/zdref_config.h: FORCE
	@mkdir -p generated
	@echo '  PROBE   $(KDIR)'
	@scripts/probe $(KDIR) $(CURDIR)/generated

modules: generated/zdref_config.h
	$(MAKE) $(KBUILD_ARGS) modules

strict: generated/zdref_config.h
	$(MAKE) $(KBUILD_ARGS) $(STRICT_ARGS) modules

sparse: generated/zdref_config.h
	$(MAKE) $(KBUILD_ARGS) C=2 modules

sparse-strict: generated/zdref_config.h
	$(MAKE) $(KBUILD_ARGS) $(STRICT_ARGS) C=2 modules

clean:
	$(MAKE) $(KBUILD_ARGS) clean
	rm -rf generated

matrix:
	scripts/build-matrix

kernels:
	scripts/kernels --check

check:
	scripts/check

try:
	scripts/try

bench:
	scripts/bench

deb:
	scripts/deb

build-files:
	@echo $(BUILD_FILES)

dkms-source:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	tar -cf - --exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='*.cmd' --exclude='*.a' $(DKMS_FILES) | tar -xf - -C $(DKMS_SRC)

dkms-install: dkms-source
	$(DKMS) status zdref/$(VERSION) | grep -q . || $(DKMS) add zdref/$(VERSION)
	$(DKMS) build zdref/$(VERSION) -k $(KVER)
	$(DKMS) install zdref/$(VERSION) -k $(KVER)

dkms-remove:
	! $(DKMS) status zdref/$(VERSION) | grep -q . || $(DKMS) remove zdref/$(VERSION) --all
	rm -rf $(DKMS_SRC)

.PHONY: all modules strict sparse sparse-strict clean matrix kernels check try bench deb FORCE build-files \
	dkms-source dkms-install dkms-remove
