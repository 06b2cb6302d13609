"""Settings: built once from the environment, validated once with the CLI's one-line errors, mapped onto the
options the addons declare."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy.test import taddons

from headroom.settings import OFF_WORDS, ON_WORDS, Settings, SettingsError, is_off, is_on


def test_defaults_are_the_proxys_defaults():
    s = Settings.from_env({})
    assert s == Settings()
    assert (s.tls_strict, s.retrieve, s.ledger, s.relevance_model) == (True, True, True, True)
    assert (s.min_tokens, s.compress_timeout_ms, s.responses_websocket, s.compress_holdout) == (400, 2000, "http", 0.0)
    assert (s.output_shaper, s.output_shaper_level, s.output_shaper_effort, s.output_holdout) == (False, 2, True, 0.0)
    assert (s.ccr_ttl_seconds, s.ccr_max_bytes, s.admin_port, s.pricing, s.model_dir) == (
        604800, 512 * 1024 * 1024, 0, "", "")
    assert s.warnings == ()


def test_every_variable_is_read():
    s = Settings.from_env({
        "HEADROOM_TLS_STRICT": "0", "HEADROOM_RETRIEVE": "off", "HEADROOM_LEDGER": "FALSE",
        "HEADROOM_RELEVANCE_MODEL": " no ", "HEADROOM_MODEL_DIR": " /m ", "HEADROOM_MIN_TOKENS": "50",
        "HEADROOM_COMPRESS_TIMEOUT_MS": "900", "HEADROOM_RESPONSES_WEBSOCKET": "PASS",
        "HEADROOM_COMPRESS_HOLDOUT": "0.25", "HEADROOM_CCR_TTL": "60", "HEADROOM_CCR_MAX_MB": "2",
        "HEADROOM_ADMIN_PORT": "-1", "HEADROOM_OUTPUT_SHAPER": "yes", "HEADROOM_OUTPUT_SHAPER_LEVEL": "terse",
        "HEADROOM_OUTPUT_SHAPER_EFFORT": "0", "HEADROOM_OUTPUT_HOLDOUT": "0.1", "PATH": "/bin",
    })
    assert (s.tls_strict, s.retrieve, s.ledger, s.relevance_model) == (False, False, False, False)
    assert (s.model_dir, s.min_tokens, s.compress_timeout_ms, s.responses_websocket) == ("/m", 50, 900, "pass")
    assert (s.compress_holdout, s.ccr_ttl_seconds, s.ccr_max_bytes, s.admin_port) == (0.25, 60, 2 * 1024 * 1024, -1)
    assert (s.output_shaper, s.output_shaper_level, s.output_shaper_effort, s.output_holdout) == (True, 3, False, 0.1)
    assert s.warnings == ()
    assert "PATH" not in s.reported and s.reported["HEADROOM_COMPRESS_TIMEOUT_MS"] == "900"


@pytest.mark.parametrize("name,value,message", [
    ("HEADROOM_TLS_STRICT", "maybe", "HEADROOM_TLS_STRICT='maybe': use 1 (on) or 0 (off)"),
    ("HEADROOM_RETRIEVE", "yes please", "HEADROOM_RETRIEVE='yes please': use 1 (on) or 0 (off)"),
    ("HEADROOM_LEDGER", "2", "HEADROOM_LEDGER='2': use 1 (on) or 0 (off), or a postgresql://user:pass@host/db URL "
     "(the team's shared ledger)"),
    ("HEADROOM_LEDGER", "mysql://u:pw@db/x", "HEADROOM_LEDGER='mysql://u:***@db/x': give "
     "postgresql://user:pass@host:5432/db (?sslmode=verify-full for TLS), 1 (the local ledger) or 0 (off)"),
    ("HEADROOM_RELEVANCE_MODEL", "onnx", "HEADROOM_RELEVANCE_MODEL='onnx': use 1 (on) or 0 (off)"),
    ("HEADROOM_MIN_TOKENS", "lots", "HEADROOM_MIN_TOKENS='lots': give a whole number of tokens, e.g. 400"),
    ("HEADROOM_COMPRESS_TIMEOUT_MS", "0",
     "HEADROOM_COMPRESS_TIMEOUT_MS='0': give the compression budget in milliseconds, e.g. 2000"),
    ("HEADROOM_COMPRESS_HOLDOUT", "10%", "HEADROOM_COMPRESS_HOLDOUT must be a number from 0 to 1 (e.g. 0.1 keeps 10% "
     "of conversations uncompressed), not '10%'"),
    ("HEADROOM_OUTPUT_HOLDOUT", "10%", "HEADROOM_OUTPUT_HOLDOUT must be a number from 0 to 1 (e.g. 0.1 keeps 10% of "
     "conversations unshaped), not '10%'"),
    ("HEADROOM_OUTPUT_SHAPER", "please", "HEADROOM_OUTPUT_SHAPER='please': use 1 (on) or 0 (off)"),
    ("HEADROOM_OUTPUT_SHAPER_EFFORT", "lower", "HEADROOM_OUTPUT_SHAPER_EFFORT='lower': use 1 (on) or 0 (off)"),
    ("HEADROOM_OUTPUT_SHAPER_LEVEL", "4", "HEADROOM_OUTPUT_SHAPER_LEVEL must be one of 0 (effort only), 1 (lean), "
     "2 (concise), 3 (terse), not '4'"),
    ("HEADROOM_CCR_TTL", "7d", "HEADROOM_CCR_TTL must be a whole number of seconds, not '7d'; fix or unset it"),
    ("HEADROOM_CCR_MAX_MB", "-1", "HEADROOM_CCR_MAX_MB must be positive, not '-1'; fix or unset it"),
    # Only warned once (issue 15 item 15): the dashboard then listened where nobody looked for it.
    ("HEADROOM_ADMIN_PORT", "abc",
     "HEADROOM_ADMIN_PORT='abc': give a port (1-65535), 0 for the proxy's port + 1, or -1 for no dashboard"),
    ("HEADROOM_ADMIN_PORT", "70000",
     "HEADROOM_ADMIN_PORT='70000': give a port (1-65535), 0 for the proxy's port + 1, or -1 for no dashboard"),
])
def test_a_value_it_would_misread_is_one_line(name, value, message):
    with pytest.raises(SettingsError) as e:
        Settings.from_env({name: value})
    assert str(e.value) == message and "\n" not in str(e.value)


def test_a_bad_pricing_file_is_refused(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text("not json")
    with pytest.raises(SettingsError, match="HEADROOM_PRICING=.*fix or unset it"):
        Settings.from_env({"HEADROOM_PRICING": str(bad)})


def test_values_it_can_work_around_are_warnings():
    s = Settings.from_env({"HEADROOM_RESPONSES_WEBSOCKET": "sometimes"})
    assert s.responses_websocket == "http"
    assert s.warnings == ("HEADROOM_RESPONSES_WEBSOCKET='sometimes' is not http or pass; using http",)


def test_an_output_holdout_without_the_shaper_says_where_the_compression_holdout_went():
    # HEADROOM_OUTPUT_HOLDOUT used to hold out compression; now it is the shaper's control group.
    s = Settings.from_env({"HEADROOM_OUTPUT_HOLDOUT": "0.1"})
    assert (s.output_holdout, s.compress_holdout) == (0.1, 0.0)
    assert s.warnings == ("HEADROOM_OUTPUT_HOLDOUT=0.1 keeps conversations unshaped, and the output shaper is off "
                          "(HEADROOM_OUTPUT_SHAPER=1 turns it on); the compression control group is "
                          "HEADROOM_COMPRESS_HOLDOUT",)
    assert Settings.from_env({"HEADROOM_OUTPUT_HOLDOUT": "0.1", "HEADROOM_OUTPUT_SHAPER": "1"}).warnings == ()


def test_secrets_are_masked_and_host_port_are_not_reported():
    s = Settings.from_env({"HEADROOM_PROXY_TOKEN": "hunter2", "HEADROOM_PORT": "1", "HEADROOM_HOST": "x"})
    assert s.reported == {"HEADROOM_PROXY_TOKEN": "***"}


def test_a_name_that_only_contains_a_secret_word_is_reported_as_it_is():
    # HEADROOM_MIN_TOKENS is a size floor: masking it hid the one number a user compares between two proxies.
    s = Settings.from_env({"HEADROOM_MIN_TOKENS": "400", "HEADROOM_API_KEY": "k", "HEADROOM_KEYS_TTL": "1"})
    assert s.reported == {"HEADROOM_API_KEY": "***", "HEADROOM_KEYS_TTL": "1", "HEADROOM_MIN_TOKENS": "400"}


def test_a_urls_password_is_masked_in_what_the_proxy_reports():
    s = Settings.from_env({"HEADROOM_UPSTREAM_PROXY": "http://alice:hunter2@corp:3128"})
    assert s.reported == {"HEADROOM_UPSTREAM_PROXY": "http://alice:***@corp:3128"}


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().min_tokens = 1  # type: ignore[misc]


def test_one_set_of_on_and_off_words():
    assert OFF_WORDS == {"0", "false", "no", "off"} and ON_WORDS == {"1", "true", "yes", "on"}
    assert all(is_off(w.upper()) and not is_on(w) for w in OFF_WORDS)
    assert all(is_on(f" {w} ") and not is_off(w) for w in ON_WORDS)
    assert not is_off(None) and not is_on(None) and not is_off("") and not is_on("maybe")


def test_every_option_it_sets_is_declared_by_an_addon_with_the_same_type_and_default():
    # The runner sets only the options that exist: a misspelt one would silently do nothing.
    from headroom.addon import make_addons

    addons = make_addons(Settings())
    with taddons.context(*addons) as tctx:
        for name, value in Settings().options().items():
            assert name in tctx.options, f"{name} is not declared by any addon"
            assert tctx.options.default(name) == value, name  # Settings' defaults are the options' defaults
            assert isinstance(value, tctx.options._options[name].typespec), name


def test_compress_and_bypass_are_read_and_refused_in_one_line():
    s = Settings.from_env({"HEADROOM_COMPRESS": "off", "HEADROOM_BYPASS": "yes"})
    assert (s.compress, s.bypass) == (False, True)
    assert (Settings.from_env({"HEADROOM_BYPASS": ""}).bypass, Settings.from_env({}).compress) == (False, True)
    with pytest.raises(SettingsError, match=r"^HEADROOM_BYPASS='sometimes': use 1 \(on\) or 0 \(off\)$"):
        Settings.from_env({"HEADROOM_BYPASS": "sometimes"})


def test_the_per_session_part_round_trips_as_json():
    from headroom.settings import SessionSettings

    s = Settings.from_env({"HEADROOM_COMPRESS": "0", "HEADROOM_COMPRESS_HOLDOUT": "0.5", "HEADROOM_MIN_TOKENS": "9",
                           "HEADROOM_OUTPUT_SHAPER": "1", "HEADROOM_OUTPUT_SHAPER_LEVEL": "3",
                           "HEADROOM_OUTPUT_HOLDOUT": "0.25"})
    session = s.session()
    assert (session.compress, session.compress_holdout, session.min_tokens, session.bypass) == (False, 0.5, 9, False)
    assert (session.output_shaper, session.output_shaper_level, session.output_holdout) == (True, 3, 0.25)
    assert SessionSettings.from_json(json.loads(json.dumps(session.to_json()))) == session
    assert SessionSettings.from_json({}) == SessionSettings() == Settings().session()


def test_the_effective_settings_are_one_value_however_they_were_said(tmp_path, monkeypatch):
    from headroom.settings import proxy_lists

    monkeypatch.chdir(tmp_path)
    (tmp_path / "corp.pem").write_text("")
    # `headroom proxy --route R --upstream-ca corp.pem --extra-host H` with nothing in its environment ...
    flags = Settings.from_env({}).effective(routes=["api.openai.com=127.0.0.1:9"], upstream_ca=["corp.pem"],
                                            extra_hosts=["llm.example.com"])
    # ... and a shell that says the same with variables, defaults spelt out, other words and a full path.
    env = {"HEADROOM_ROUTE": "api.openai.com=127.0.0.1:9", "HEADROOM_UPSTREAM_CA": str(tmp_path / "corp.pem"),
           "HEADROOM_EXTRA_HOSTS": "https://LLM.example.com:443", "HEADROOM_TLS_STRICT": "yes",
           "HEADROOM_CCR_TTL": str(Settings().ccr_ttl_seconds), "HEADROOM_RETRIEVE": "on"}
    routes, cas, hosts = proxy_lists(env)
    assert Settings.from_env(env).effective(routes=routes, upstream_ca=cas, extra_hosts=hosts) == flags
    # HEADROOM_CA_BUNDLE names the one file when HEADROOM_UPSTREAM_CA is unset, as for the proxy.
    assert proxy_lists({"HEADROOM_CA_BUNDLE": " corp.pem "})[1] == [Path("corp.pem")]
    assert proxy_lists({"HEADROOM_CA_BUNDLE": "corp.pem", "HEADROOM_UPSTREAM_CA": "a.pem b.pem"})[1] == [
        Path("a.pem"), Path("b.pem")]
    # A real difference stays one.
    other = Settings.from_env({"HEADROOM_TLS_STRICT": "0"}).effective(routes=routes, upstream_ca=cas, extra_hosts=hosts)
    assert {k for k in flags if flags[k] != other[k]} == {"HEADROOM_TLS_STRICT"}
    assert set(flags) >= {"HEADROOM_ROUTE", "HEADROOM_UPSTREAM_CA", "HEADROOM_EXTRA_HOSTS", "HEADROOM_CCR_TTL"}


# --- HEADROOM_CONFIG: one TOML file with the variables' names; the environment wins -------------------------

def test_a_config_file_sets_what_the_environment_does_not(tmp_path):
    from headroom.settings import apply_config_file

    f = tmp_path / "headroom.toml"
    f.write_text('HEADROOM_MIN_TOKENS = 50\nccr_ttl = 60\nHEADROOM_TLS_STRICT = false\n'
                 'HEADROOM_EXTRA_HOSTS = ["llm.corp.example", "*.ai.example"]\nHEADROOM_TEAM = true\n')
    env = {"HEADROOM_CONFIG": str(f), "HEADROOM_CCR_TTL": "90"}
    assert sorted(apply_config_file(env)) == ["HEADROOM_EXTRA_HOSTS", "HEADROOM_MIN_TOKENS", "HEADROOM_TEAM",
                                              "HEADROOM_TLS_STRICT"]
    s = Settings.from_env(env)
    assert (s.min_tokens, s.ccr_ttl_seconds, s.tls_strict, s.team) == (50, 90, False, True)  # 90: the environment's
    assert env["HEADROOM_EXTRA_HOSTS"] == "llm.corp.example *.ai.example"


@pytest.mark.parametrize("text, message", [
    ("HEADROOM_MIN_TOKEN = 5\n", "unknown key 'HEADROOM_MIN_TOKEN'; the keys are the HEADROOM_* variables"),
    ("min_tokens = [1, {a = 2}]\n", "min_tokens must be a string, a number, true/false or a list of strings"),
    ("min_tokens = \n", "not TOML"),
])
def test_a_config_file_it_cannot_use_is_refused_in_one_line(tmp_path, text, message):
    from headroom.settings import apply_config_file

    f = tmp_path / "headroom.toml"
    f.write_text(text)
    with pytest.raises(SettingsError) as e:
        apply_config_file({"HEADROOM_CONFIG": str(f)})
    assert message in str(e.value) and "\n" not in str(e.value) and str(e.value).startswith(f"HEADROOM_CONFIG={f}:")
    with pytest.raises(SettingsError, match="No such file"):
        apply_config_file({"HEADROOM_CONFIG": str(tmp_path / "missing.toml")})


def test_the_config_files_keys_are_the_documented_variables():
    import re

    from headroom.settings import CONFIG_VARIABLE, VARIABLES

    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    table = doc.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    documented = {name for row in table.splitlines() if row.startswith("| `HEADROOM_")
                  for name in re.findall(r"`(HEADROOM_[A-Z_]+)`", row.split("|")[1])}
    assert documented - {CONFIG_VARIABLE} == set(VARIABLES)


def test_the_command_line_reads_the_config_file_and_refuses_a_bad_one(tmp_path, headroom_home):
    import os
    import subprocess
    import sys

    users = tmp_path / "shared" / "users.json"
    f = tmp_path / "headroom.toml"
    f.write_text(f'HEADROOM_TEAM_USERS = "{users}"\n')
    env = {**os.environ, "HEADROOM_CONFIG": str(f)}
    r = subprocess.run([sys.executable, "-m", "headroom", "team", "add", "alice"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert users.is_file() and "alice" in users.read_text()
    f.write_text("colour = 'blue'\n")
    r = subprocess.run([sys.executable, "-m", "headroom", "perf"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown key 'colour'" in r.stderr


def test_team_mode_follows_the_listen_address_unless_told():
    assert Settings.from_env({}).for_host("127.0.0.1").team is False
    assert Settings.from_env({"HEADROOM_TEAM": "1"}).for_host("127.0.0.2").team is True
    assert Settings.from_env({}).for_host("0.0.0.0").team is True
    with pytest.raises(SettingsError, match="^HEADROOM_TEAM=0 with --host 0.0.0.0: off loopback"):
        Settings.from_env({"HEADROOM_TEAM": "0"}).for_host("0.0.0.0")
    with pytest.raises(SettingsError, match="use 1 \\(on\\) or 0 \\(off\\)"):
        Settings.from_env({"HEADROOM_TEAM": "maybe"})


def test_a_postgresql_ledger_keeps_the_local_one_on_and_its_password_masked():
    url = "postgresql://team:s3cret-pw@db.internal:5432/headroom?sslmode=verify-full"
    s = Settings.from_env({"HEADROOM_LEDGER": url, "HEADROOM_REPLICA": "proxy-a", "HEADROOM_LEDGER_CA": "/ca.pem"})
    assert (s.ledger, s.ledger_url, s.replica) == (True, url, "proxy-a")
    assert s.options()["headroom_ledger_url"] == url and s.options()["headroom_replica"] == "proxy-a"
    shown = {**s.effective(), **s.reported}
    assert "s3cret-pw" not in repr(shown) and "db.internal" in shown["HEADROOM_LEDGER"]
    assert Settings.from_env({"HEADROOM_LEDGER": "0"}).ledger is False
    assert Settings.from_env({}).ledger_url == ""
