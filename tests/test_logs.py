"""Logs: one JSON line per command with who/what/which stream/which version; never a secret."""

from __future__ import annotations

import json

import pytest

from tests.conftest import bearer


@pytest.fixture
def json_logs(capsys):  # type: ignore[no-untyped-def]
    """JSON logs into pytest's captured stderr, and structlog's defaults back afterwards."""
    import structlog

    from api.logs import configure

    configure("json")
    yield capsys
    structlog.reset_defaults()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_each_command_logs_one_json_line_without_the_token(client, make_token, json_logs):  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    capsys = json_logs
    capsys.readouterr()
    body = {"nib": "3216000000001", "name": "PT Contoh (sampel)", "scale": "besar",
            "region_code": "32.16", "kbli": ["47111"]}
    response = client.post("/v1/businesses", json=body, headers={
        **bearer(admin), "X-Request-ID": "req-42"})
    assert response.status_code == 201, capsys.readouterr().err[-3000:]
    assert response.headers["X-Request-ID"] == "req-42"
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    commands = [line for line in lines if line["event"] == "command.done"]
    assert len(commands) == 1
    entry = commands[0]
    assert entry["command"] == "business.register"
    assert entry["request_id"] == "req-42"
    assert entry["role"] == "admin" and entry["principal"]
    assert entry["version"] == 1 and entry["stream_id"]
    assert admin not in err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_upload_logs_no_file_content(client, make_token, json_logs):  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    capsys = json_logs
    for nib, scale, region in (("3216000000001", "besar", "32.16"),
                               ("3216000000101", "mikro", "32.16.01")):
        client.post("/v1/businesses", headers=bearer(admin), json={
            "nib": nib, "name": "Sampel", "scale": scale, "region_code": region,
            "kbli": ["47111"]})
    pid = client.post("/v1/partnerships", headers=bearer(admin), json={
        "large_nib": "3216000000001", "umkm_nib": "3216000000101", "pola": "rantai_pasok",
        "title": "Sampel", "start_date": "2024-01-01", "location_region_code": "32.16"}).json()["id"]
    capsys.readouterr()
    secret_content = b"%PDF-1.4 RAHASIA-ISI-BERKAS"
    r = client.post(f"/v1/partnerships/{pid}/evidence", headers=bearer(admin),
                    files={"file": ("p.pdf", secret_content)}, data={"kind": "perjanjian"})
    assert r.status_code == 201
    err = capsys.readouterr().err
    assert "RAHASIA" not in err and admin not in err
    assert any(json.loads(x)["command"] == "partnership.submit_evidence"
               for x in err.splitlines() if '"command.done"' in x)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_regulation_writes_log_their_command_and_a_refusal_says_who(  # type: ignore[no-untyped-def]
        client, make_token, json_logs):
    """Enacting or revoking a regulation logged nothing; a refused request did not say by whom."""
    import pathlib

    admin = make_token("admin")
    capsys = json_logs
    pack = json.loads((pathlib.Path(__file__).parents[1] / "rules" /
                       "perbup-bekasi-73-2020.json").read_text())
    capsys.readouterr()
    assert client.post("/v1/regulations", json=pack, headers=bearer(admin)).status_code == 201
    auditor = make_token("auditor")
    assert client.post("/v1/regulations", json=pack, headers=bearer(auditor)).status_code == 403
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    [done] = [x for x in lines if x["event"] == "command.done"]
    assert done["command"] == "regulation.enact" and done["stream_id"]
    [refused] = [x for x in lines if x["event"] == "request.rejected"]
    assert (refused["status"], refused["role"]) == (403, "auditor") and refused["principal"]
