"""The browser tests' fixtures (Chromium, the broker, the CI rules) for the comparison's own run."""

from tests.browser.conftest import *  # noqa: F403
from tests.conftest import *  # noqa: F403
