"""One structured line per attempt, and nothing personal or secret in any log line."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from gateway.errors import OutcomeUnknown, TransientError
from gateway.http import path_template
from gateway.masking import install_masking, mask_text
from tests.test_http_support import Script, client_for

ID18 = re.compile(r"\d{17}[\dXx]")
ID = "11010519900307123X"
MOBILE = "13812345678"
TOKEN = "tok-9f8e7d6c5b4a"
SECRET = "s3cr3t-Value-42"
SIGN = "a1b2c3d4e5f6a7b8"


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/scores", "/v1/scores"),
        ("/v1/plans/2024-07/registrations", "/v1/plans/{id}/registrations"),
        (f"/v1/plans/p1/registrations/{ID}", "/v1/plans/p1/registrations/{id}"),
        ("/v1/certificates/BF2024000123/verify", "/v1/certificates/{id}/verify"),
        ("/api/reg/job/12345", "/api/reg/job/{n}"),
        ("/oauth2/token", "/oauth2/token"),
        ("/v1/people/张三", "/v1/people/{id}"),
        ("/v1/x/" + "ab" * 32, "/v1/x/{id}"),
        ("/", "/"),
    ],
)
def test_path_template(path: str, template: str) -> None:
    assert path_template(path) == template


async def test_one_line_per_attempt_with_fields(no_sleep, caplog) -> None:
    caplog.set_level(logging.INFO, logger="xgate.http")
    script = Script([503, 200])
    async with client_for(script, no_sleep, organization="beifang") as client:
        await client.get(f"/v1/plans/p1/registrations/{ID}?fields=all")
    lines = [r for r in caplog.records if r.name == "xgate.http"]
    assert len(lines) == 2
    fields = [r.http for r in lines]  # type: ignore[attr-defined]
    assert [f["attempt"] for f in fields] == [1, 2]
    assert [f["status"] for f in fields] == [503, 200]
    for f in fields:
        assert f["organization"] == "beifang"
        assert f["method"] == "GET"
        assert f["path"] == "/v1/plans/p1/registrations/{id}"
        assert f["duration_ms"] >= 0
    message = lines[1].getMessage()
    assert "org=beifang" in message and "status=200" in message and "attempt=2" in message
    assert "fields=all" not in message  # query strings never reach the line
    assert all(r.levelno == logging.INFO for r in lines)


async def test_failed_attempts_are_logged_with_the_error(no_sleep, caplog) -> None:
    caplog.set_level(logging.INFO, logger="xgate.http")
    script = Script([httpx.ReadTimeout])
    async with client_for(script, no_sleep) as client:
        with pytest.raises(OutcomeUnknown):
            await client.post("/v1/plans/p1/registrations", json={})
    (line,) = [r for r in caplog.records if r.name == "xgate.http"]
    assert line.http["error"] == "ReadTimeout"  # type: ignore[attr-defined]
    assert line.http["status"] is None  # type: ignore[attr-defined]


def _leaks(text: str) -> list[str]:
    found = ID18.findall(text)
    found += [s for s in (MOBILE, TOKEN, SECRET, SIGN) if s in text]
    return found


async def test_nothing_personal_or_secret_reaches_any_log(no_sleep, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    install_masking()
    url = (
        f"/v1/people/{ID}/scores?id_no={ID}&mobile={MOBILE}&token={TOKEN}"
        f"&client_secret={SECRET}&sign={SIGN}"
    )
    script = Script([503, 200])
    async with client_for(script, no_sleep, secrets=[SECRET]) as client:
        await client.get(url, headers={"Authorization": f"Bearer {TOKEN}", "X-Mobile": MOBILE})
        logging.getLogger("xgate.org.test").info(
            "adapter saw %s %s with %s", ID, MOBILE, f"Authorization: Bearer {TOKEN}"
        )
    # the request really carried the data: the test would catch a leak
    assert ID in str(script.calls[0].url) and TOKEN in script.calls[0].headers["Authorization"]
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert httpx_lines and "110105********123X" in httpx_lines[0]
    assert caplog.records, "nothing was logged"
    for record in caplog.records:
        assert _leaks(record.getMessage()) == [], (record.name, record.getMessage())
    assert _leaks(caplog.text) == []


async def test_error_messages_are_masked(no_sleep) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    async with client_for(
        httpx.MockTransport(handler), no_sleep, attempts=2, secrets=[SECRET]
    ) as client:
        with pytest.raises(TransientError) as caught:
            await client.get(f"/v1/people/{ID}?token={TOKEN}&client_secret={SECRET}")
    text = str(caught.value)
    assert "ConnectError" in text
    assert _leaks(text) == []


def test_mask_text_covers_secret_shapes() -> None:
    samples = {
        f"GET /x?access_token={TOKEN}&a=1": TOKEN,
        f'{{"refresh_token": "{TOKEN}"}}': TOKEN,
        f"Authorization: Basic {TOKEN}": TOKEN,
        f"authorization={TOKEN}": TOKEN,
        f"api_key={TOKEN}": TOKEN,
        f"POST body app_secret={SECRET}&sign={SIGN}": SIGN,
    }
    for text, secret in samples.items():
        assert secret not in mask_text(text), text
    assert mask_text("authorization failed for the app") == "authorization failed for the app"
