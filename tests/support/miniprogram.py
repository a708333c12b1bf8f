"""The mini-program mock's server module (miniprogram-mock/server.py: its folder is no package)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from backend.config import PROJECT_DIR

SERVER = PROJECT_DIR / "miniprogram-mock" / "server.py"


def server_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("miniprogram_mock_server", SERVER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
