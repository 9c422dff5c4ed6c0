# SPDX-License-Identifier: GPL-2.0-or-later
# `make fuzz` and `make test` do all set-up on a fresh Debian machine by themselves.

PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SEED ?= 1
MINUTES ?= 10

.PHONY: setup fuzz test

# System packages (liburcu for the kernel's user-space scaffolding, a C compiler,
# apt for fetching Debian's linux-source-6.12), then this package and its deps.
setup:
	@if ! [ -e /usr/include/urcu.h ] || ! command -v cc >/dev/null || ! command -v dpkg-deb >/dev/null \
	    || ! command -v dot >/dev/null || ! command -v chromium >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liburcu-dev gcc make xz-utils \
			graphviz chromium; \
	fi
	$(PYTHON) -m pip install -q -e .

# The main job: a Linux-vs-model fuzzing campaign (fetches and builds the adapter itself).
fuzz: setup
	maplecheck fuzz --impl linux --minutes $(MINUTES) --seed $(SEED)

test: setup
	HYPOTHESIS_PROFILE=ci $(PYTHON) -m pytest -q
