import pytest

from utils import data


@pytest.fixture
def fresh_data_cache(monkeypatch, tmp_path):
    """An empty course data/ folder and no offline folder, with the in-memory cache cleared before and after."""
    monkeypatch.setattr(data, "DEFAULT_ROOT", tmp_path / "data")
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    data._load_full.cache_clear()
    yield tmp_path / "data"
    data._load_full.cache_clear()
