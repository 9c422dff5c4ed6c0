# SPDX-License-Identifier: GPL-2.0-or-later
# `make fuzz` and `make test` do all set-up on a fresh Debian machine by themselves.

PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SEED ?= 1
MINUTES ?= 10
KERNEL ?= latest

.PHONY: setup fuzz test

# System packages (liburcu for the kernel's user-space scaffolding, a C compiler,
# apt and distro-info-data for fetching Debian's linux-source-VERSION from the
# suites newer than this machine's release, graphviz for `show`, chromium to check
# `--report` pages, elfutils for the C stack of a hang), then this package and its deps.
setup:
	@if ! [ -e /usr/include/urcu.h ] || ! command -v cc >/dev/null || ! command -v dpkg-deb >/dev/null \
			|| ! [ -e /usr/share/distro-info/debian.csv ] || ! command -v dot >/dev/null \
			|| ! command -v chromium >/dev/null || ! command -v eu-stack >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liburcu-dev gcc make xz-utils \
			distro-info-data graphviz chromium elfutils; \
	fi
	$(PYTHON) -m pip install -q -e .

# The main job: a Linux-vs-model fuzzing campaign on the newest packaged kernel
# (fetches and builds the adapter itself; KERNEL=6.12 picks another).
fuzz: setup
	maplecheck fuzz --impl linux --minutes $(MINUTES) --seed $(SEED) --kernel $(KERNEL)

# The Linux-side tests run on every kernel of MAPLECHECK_TEST_KERNELS (6.12 LTS and
# the newest packaged 7.x); each is fetched and built on first use.
test: setup
	HYPOTHESIS_PROFILE=ci MAPLECHECK_TEST_KERNELS="$${MAPLECHECK_TEST_KERNELS:-6.12,7.3}" $(PYTHON) -m pytest -q
