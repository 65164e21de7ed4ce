# SPDX-License-Identifier: GPL-2.0
#
#   make                 build zdref.ko for the running kernel
#   make KDIR=DIR        build it against the headers in DIR
#   make matrix          build it for every kernel of scripts/kernels.conf, W=1
#   make check           the whole test suite; ends with "N passed, N failed"
#   make try             set up, boot a stock kernel in qemu, show zdref at work
#   make bench           zdref beside anonymous memory and device-dax, per kernel
#   make sparse          the build with sparse on every file (C=2)

KDIR ?= /lib/modules/$(shell uname -r)/build
W ?= 1
KBUILD_ARGS = -C $(KDIR) M=$(CURDIR) W=$(W)

all: modules

generated/zdref_config.h: FORCE
	@mkdir -p generated
	@scripts/probe $(KDIR) $(CURDIR)/generated

modules: generated/zdref_config.h
	$(MAKE) $(KBUILD_ARGS) modules

sparse: generated/zdref_config.h
	$(MAKE) $(KBUILD_ARGS) C=2 modules

clean:
	$(MAKE) $(KBUILD_ARGS) clean
	rm -rf generated

matrix:
	scripts/build-matrix

check:
	scripts/check

try:
	scripts/try

bench:
	scripts/bench

.PHONY: all modules sparse clean matrix check try bench FORCE
