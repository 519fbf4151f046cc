import pytest

from gridwatch.errors import ConfigError
from gridwatch.settings import load_settings, parse_mqtt_url


def test_mqtt_url_with_credentials() -> None:
    ep = parse_mqtt_url("mqtt://gw%40x:p%3Ass@broker.local:8883")
    assert (ep.host, ep.port, ep.username, ep.password) == ("broker.local", 8883, "gw@x", "p:ss")


def test_mqtt_url_default_port() -> None:
    assert parse_mqtt_url("mqtt://10.0.0.2").port == 1883


@pytest.mark.parametrize("url", ["http://x:1883", "mqtt://", "mqtt://h:notaport"])
def test_malformed_mqtt_url_names_the_setting(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(mqtt_url=url)
    assert str(info.value).startswith("GRIDWATCH_MQTT_URL: ")


def test_malformed_database_url_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^GRIDWATCH_DATABASE_URL: expected postgresql://"):
        load_settings(database_url="mysql://x")


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_RETENTION_DAYS", "9")
    assert load_settings().retention_days == 9


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match="GRIDWATCH_NO_SUCH"):
        load_settings(no_such=1)
