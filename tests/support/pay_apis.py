"""Running a test through both WeChat Pay APIs: the app pays through v2, then through v3, against
the one fake platform that speaks both (the `pay_api` fixture in tests/conftest.py)."""

from __future__ import annotations

import pytest

# As a module's `pytestmark` or a test's decorator.
BOTH_PAY_APIS = pytest.mark.parametrize("pay_api", ["v2", "v3"], indirect=True)
