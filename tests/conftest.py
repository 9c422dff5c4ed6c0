# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared test settings: Hypothesis profiles, and which kernels the Linux-side tests run on.

``ci`` (the default) is deterministic and bounded: derandomized, a fixed number
of examples, no deadline (CI machines are noisy).  Long exploration belongs to
``maplecheck fuzz``; ``HYPOTHESIS_PROFILE=dev`` explores a little more.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

# Tests that build the Linux adapter without naming a kernel compare it with our
# Python tree, which follows Linux 6.12's write path: they run on 6.12.  Tests
# that hold on every kernel take the ``linux_kernel`` fixture instead (below).
os.environ.setdefault("MAPLECHECK_KERNEL", "6.12")

settings.register_profile(
    "ci", derandomize=True, max_examples=25, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
settings.register_profile(
    "dev", max_examples=200, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


#: the kernels the version-independent Linux-side tests run on (CI: 6.12 LTS and the newest 7.x)
TEST_KERNELS = [k.strip() for k in os.environ.get("MAPLECHECK_TEST_KERNELS", "6.12,7.3").split(",") if k.strip()]


@pytest.fixture(scope="session", params=TEST_KERNELS)
def linux_kernel(request) -> str:
    """A kernel series (``"6.12"``, ``"7.3"``): tests taking this run once per kernel."""
    return request.param


@pytest.fixture(scope="session")
def linux_kernel_info(linux_kernel) -> dict:
    """``kernel_info`` of the tree ``linux_kernel`` names (version, detected features)."""
    from maplecheck.impl.linux.source import kernel_info, kernel_source
    info = kernel_info(kernel_source(kernel=linux_kernel))
    return {**info, "series": linux_kernel}
