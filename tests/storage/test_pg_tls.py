"""The shared ledger over TLS to a real PostgreSQL (ssl=on, a server certificate signed by a test CA, plain
connections refused by pg_hba): HEADROOM_LEDGER_CA with sslmode=verify-full writes and reads; a wrong CA, a
missing CA file or a certificate for another host name is refused with its kind logged (no password, no
server text), and the rows are what is lost, never the caller."""
from __future__ import annotations

import logging
import time

import pytest

from tests.support.servers import require_psycopg

psycopg = require_psycopg()

from headroom.core.ports import Entry  # noqa: E402
from headroom.storage import pg_ledger  # noqa: E402
from headroom.storage.pg_ledger import PgLedger, snapshot  # noqa: E402
from headroom.storage.report import build_report  # noqa: E402
from headroom.storage.team_view import TeamView  # noqa: E402
from tests.support.pki import make_ca, make_leaf  # noqa: E402
from tests.support.servers import postgres_server  # noqa: E402

PASSWORD = "tls-pw-90210"
NOT_TRUSTED = "OperationalError: TLS: the server's certificate is not signed by the ledger's CA file"


@pytest.fixture(scope="module")
def tls_db(tmp_path_factory):
    """(URL with host localhost, the CA file that signed its certificate, another CA's file)."""
    ca, other = make_ca("Ledger test CA"), make_ca("Some other CA")
    leaf = make_leaf(ca, "localhost")
    d = tmp_path_factory.mktemp("pki")
    (d / "ca.pem").write_bytes(ca.cert_pem())
    (d / "other.pem").write_bytes(other.cert_pem())
    with postgres_server(password=PASSWORD, tls=(leaf.cert_pem() + ca.cert_pem(), leaf.key_pem())) as url:
        yield url, str(d / "ca.pem"), str(d / "other.pem")


def entry(user: str = "ann") -> Entry:
    return Entry(ts=time.time(), provider="openai", host="api.openai.com", model="gpt-4o", tokens_before=100,
                 tokens_after=40, user=user)


def test_verify_full_with_the_ledger_ca_writes_and_reads_over_tls(tls_db):
    url, ca, _ = tls_db
    led = PgLedger(url + "?sslmode=verify-full", replica="a", ca_file=ca).start()
    for _ in range(3):
        led.record(entry())
    assert led.flush(20)
    led.close()
    assert (led.written, led.dropped, led.last_error) == (3, 0, None)
    with psycopg.connect(url, sslmode="verify-full", sslrootcert=ca) as c:
        assert c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    report = build_report(snapshot(url + "?sslmode=verify-full", ca_file=ca))
    assert report.totals.requests >= 3 and {r.replica for r in report.per_replica} == {"a"}


def test_a_ca_file_without_sslmode_means_verify_full_not_a_plain_fallback(tls_db):
    """libpq's default sslmode (prefer) falls back to an unencrypted connection when the certificate does not
    verify: with a CA given, the URL's silence means verify-full."""
    url, ca, other = tls_db
    assert build_report(snapshot(url, ca_file=ca)).totals.requests >= 0  # the right CA: read over TLS
    with pytest.raises(psycopg.OperationalError) as refused:
        snapshot(url, ca_file=other)
    assert pg_ledger.error_kind(refused.value) == NOT_TRUSTED


@pytest.mark.parametrize("case, expected", [
    ("wrong ca", NOT_TRUSTED),
    ("missing ca file", "OperationalError: TLS: the ledger's CA file cannot be read"),
    ("other host name", "OperationalError: TLS: the server's certificate is not for the URL's host name"),
])
def test_a_refused_certificate_costs_rows_logged_by_kind_only(tls_db, tmp_path, caplog, case, expected):
    url, ca, other = tls_db
    if case == "wrong ca":
        target, ca_file = url, other
    elif case == "missing ca file":
        target, ca_file = url, str(tmp_path / "no-such-ca.pem")
    else:  # the certificate names localhost; 127.0.0.1 is the same server under a name it is not for
        target, ca_file = url.replace("@localhost:", "@127.0.0.1:"), ca
    caplog.set_level(logging.WARNING, logger="headroom")
    led = PgLedger(target + "?sslmode=verify-full", replica="a", ca_file=ca_file).start()
    accepted = [led.record(entry()) for _ in range(2)]
    assert led.flush(20)
    led.close()
    assert accepted == [True, True]  # record() never refuses a caller for the database's sake
    assert led.written == 0 and led.dropped == 2
    assert led.last_error == f"{expected}: the shared ledger {led.url} did not take 2 row(s)"
    lines = [r.getMessage() for r in caplog.records if "shared ledger" in r.getMessage()]
    assert len(lines) == 1 and f"({expected})" in lines[0] and "2 row(s) lost" in lines[0]
    assert PASSWORD not in caplog.text and str(tmp_path) not in caplog.text  # no secrets, no server text


def test_the_team_view_and_perf_say_the_certificate_is_not_trusted(tls_db, tmp_path, monkeypatch):
    url, ca, other = tls_db
    good = TeamView(url + "?sslmode=verify-full", ca_file=ca).get(None)
    assert good["state"] == "ok"
    bad = TeamView(url + "?sslmode=verify-full", ca_file=other).get(None)
    assert bad["state"] == "unavailable" and bad["error"] == NOT_TRUSTED

    from typer.testing import CliRunner

    from headroom.cli.main import app

    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path / "home"))
    ok = CliRunner().invoke(app, ["perf", "--ledger", url, "--ledger-ca", ca, "--format", "json"])
    assert ok.exit_code == 0, ok.output
    refused = CliRunner().invoke(app, ["perf", "--ledger", url, "--ledger-ca", other])
    assert refused.exit_code == 1 and NOT_TRUSTED in refused.output and PASSWORD not in refused.output
