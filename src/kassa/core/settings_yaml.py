"""The optional YAML settings file (``KASSA_CONFIG_FILE``, default ``./kassa.yaml``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from kassa.core.errors import ConfigurationError


class YamlSource(PydanticBaseSettingsSource):
    """Reads the optional YAML file; keys are field names (``database_url``)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("KASSA_CONFIG_FILE", "kassa.yaml"))
        self._data: dict[str, Any] = {}
        if path.is_file():
            loaded = yaml.safe_load(path.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ConfigurationError(f"{path} must hold a mapping of settings.")
            self._data = {str(k).lower(): v for k, v in loaded.items()}
        elif "KASSA_CONFIG_FILE" in os.environ:
            raise ConfigurationError(f"KASSA_CONFIG_FILE points at {path}, which does not exist.")

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        known = set(self.settings_cls.model_fields)
        return {k: v for k, v in self._data.items() if k in known}
