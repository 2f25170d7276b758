"""The composition root builds the providers once per process and hands them to everyone."""

from __future__ import annotations

from pathlib import Path

from kassa import composition
from kassa.api.app import create_app
from kassa.core.settings import Settings


def _settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path, secret_key="test-secret-" + "x" * 40)  # type: ignore[call-arg]


def test_one_settings_one_set_of_providers(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = composition.build(settings)
    assert composition.build(settings) is first
    app = create_app(settings)
    assert app.state.providers is first.providers  # the API uses the root's, builds none


def test_other_settings_get_providers_of_their_own(tmp_path: Path) -> None:
    one = composition.build(_settings(tmp_path / "a"))
    two = composition.build(_settings(tmp_path / "b"))
    assert one.providers is not two.providers
