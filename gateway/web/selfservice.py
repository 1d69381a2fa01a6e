"""Learner self-service (role ``learner``) and the staff side of it: activation codes, and
verification at the issuer with recognition of certificates obtained elsewhere.

Invariant: no learner route takes a person from the request. Every page and endpoint under
``/me`` and ``/api/my`` finds the person through the signed-in user's link
(``gateway.learner_access.learner_of``) and nothing else, so a learner can reach nobody
else's data whatever path, parameter or body they send. Staff routes never accept the
learner role (``gateway.web.routes``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.credit.transcript import transcript_json, write_xlsx
from gateway.errors import InputError, XgateError
from gateway.learner_access import activate, invite, learner_of
from gateway.learners import LearnerDetail, learner_detail
from gateway.store import tables as t
from gateway.users import check_password
from gateway.web import render, state, trail
from gateway.web.routes import LEARNER, STAFF, route


async def _mine(request: web.Request) -> LearnerDetail | None:
    """The signed-in learner's own record (None when the user is linked to nobody)."""
    user = state.user(request)
    assert user is not None
    async with state.gateway(request).db.connect() as conn:
        id_hash = await learner_of(conn, user)
        if id_hash is None:
            return None
        cand = await conn.execute(
            select(t.candidates.c.id).where(t.candidates.c.id_hash == id_hash)
        )
        acc = await conn.execute(
            select(t.learning_accounts.c.id).where(t.learning_accounts.c.id_hash == id_hash)
        )
        cand_id, acc_id = cand.scalar(), acc.scalar()
        if cand_id is None and acc_id is None:
            return None
        found = await learner_detail(conn, f"c{cand_id}" if cand_id is not None else f"a{acc_id}")
    return found if found is not None and found.id_hash == id_hash else None


def _record_json(d: LearnerDetail) -> dict[str, Any]:
    person = {k: v for k, v in vars(d.person).items() if k != "ref"}
    return {
        "learner": person,
        "registrations": d.registrations,
        "scores": d.scores,
        "certificates": d.certificates,
        "transcript": transcript_json(d.transcript) if d.transcript else None,
    }


@route("GET", "/me", LEARNER, name="my_record", nav="nav.me")
async def my_record(request: web.Request) -> web.StreamResponse:
    found = await _mine(request)
    await trail.record(request, "me.view", outcome="ok" if found else "unlinked")
    return await render.page(request, "me.html", d=found)


@route("GET", "/api/my/record", LEARNER, name="api_my_record")
async def api_my_record(request: web.Request) -> web.StreamResponse:
    found = await _mine(request)
    if found is None:
        return await render.not_found(request, api=True)
    return render.api_json(_record_json(found))


@route("GET", "/me/transcript.xlsx", LEARNER, name="my_transcript")
async def my_transcript(request: web.Request) -> web.StreamResponse:
    found = await _mine(request)
    if found is None or found.transcript is None:
        return await render.not_found(request)
    transcript = found.transcript
    await trail.record(request, "me.transcript")
    return render.download(lambda p: write_xlsx(transcript, p), "transcript.xlsx")


async def _credential(request: web.Request, number: str, clr: bool) -> web.StreamResponse:
    from gateway.credentials.issue import badge_file, issue_clr

    found = await _mine(request)
    api = request.path.startswith("/api/")
    if found is None:
        return await render.not_found(request, api=api)
    gw = state.gateway(request)
    try:
        if clr:
            data = (await issue_clr(gw, found.id_hash)).file()
        else:
            data = await badge_file(gw, found.id_hash, number)
    except InputError as exc:
        if api:
            return render.api_error(request, 400, "bad_request", str(exc))
        return await render.page(request, "me.html", status=400, d=found, error=str(exc))
    await trail.record(request, "me.credential", "clr" if clr else number)
    name = "record" if clr else "".join(ch for ch in number if ch.isalnum() or ch in "-_")
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, indent=2),
        content_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="credential-{name}.json"',
            "Cache-Control": "no-store",
        },
    )


@route("POST", "/me/credentials", LEARNER, name="my_credential")
async def my_credential(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    number = str(form.get("certificate", "")).strip()[:64]
    return await _credential(request, number, clr=form.get("clr") == "1")


@route("POST", "/api/my/credentials", LEARNER, name="api_my_credential")
async def api_my_credential(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
        number, clr = str(body.get("certificate", "")).strip()[:64], bool(body.get("clr"))
    except (ValueError, TypeError, AttributeError):
        return render.api_error(request, 400, "bad_request")
    return await _credential(request, number, clr)


# --- activation (public) ----------------------------------------------------------------------


@route("GET", "/activate", None, name="activate_form")
async def activate_form(request: web.Request) -> web.StreamResponse:
    return await render.page(request, "activate.html")


@route("POST", "/activate", None, name="activate")
async def activate_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login = str(form.get("login", "")).strip()[:64]
    code = str(form.get("code", "")).strip()[:32]
    password = str(form.get("password", ""))
    try:
        check_password(password)
        user = await activate(state.gateway(request), login, code, password, now=state.now(request))
    except InputError as exc:
        await trail.record(request, "activate", outcome="refused", actor="-")
        return await render.page(request, "activate.html", status=400, error=str(exc))
    await trail.record(request, "activate", user.username, actor=user.username)
    return await render.page(request, "activate.html", done=user.username)


# --- staff: codes, verification, recognition --------------------------------------------------


@route("POST", "/learners/{ref}/invite", STAFF, name="learner_invite")
async def learner_invite(request: web.Request) -> web.StreamResponse:
    ref = request.match_info["ref"]
    gw = state.gateway(request)
    async with gw.db.connect() as conn:
        found = await learner_detail(conn, ref)
    if found is None:
        return await render.not_found(request)
    user = state.user(request)
    made = await invite(gw.db, found.id_hash, by=user.username if user else None)
    await trail.record(request, "learner.invite", ref)
    return await render.page(request, "invite.html", person=found.person, invitation=made)


@route("GET", "/verify", STAFF, name="verify_form", nav="nav.verify")
async def verify_form(request: web.Request) -> web.StreamResponse:
    gw = state.gateway(request)
    return await render.page(request, "verify.html", organizations=gw.organization_names())


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        body = await request.json()
        return {k: str(v).strip()[:64] for k, v in dict(body).items() if v is not None}
    form = await request.post()
    return {k: str(v).strip()[:64] for k, v in form.items()}


async def _ask(request: web.Request, f: dict[str, str]) -> Any:
    """Ask the issuer (``gateway.verification.ask``, which records the answer) and audit it."""
    from gateway.verification import ask

    user = state.user(request)
    answer = await ask(
        state.gateway(request),
        f.get("number", ""),
        organization=f.get("organization") or None,
        holder_name=f.get("name") or None,
        operator=user.username if user else None,
    )
    await trail.record(request, "verify", f.get("number", ""), answer.outcome)
    return answer


@route("POST", "/verify", STAFF, name="verify")
async def verify_post(request: web.Request) -> web.StreamResponse:
    orgs = state.gateway(request).organization_names()
    try:
        answer = await _ask(request, await _form(request))
    except XgateError as exc:
        return await render.page(
            request, "verify.html", status=400, error=str(exc), organizations=orgs
        )
    return await render.page(request, "verify.html", answer=answer.summary(), organizations=orgs)


@route("POST", "/api/verify", STAFF, name="api_verify")
async def api_verify(request: web.Request) -> web.StreamResponse:
    try:
        f = await _form(request)
    except (ValueError, TypeError):
        return render.api_error(request, 400, "bad_request")
    try:
        answer = await _ask(request, f)
    except XgateError as exc:
        return render.api_error(request, 400, "bad_request", str(exc))
    return render.api_json(answer.summary())


@route("POST", "/recognise", STAFF, name="recognise")
async def recognise_post(request: web.Request) -> web.StreamResponse:
    from gateway.credentials.issue import learner_hash
    from gateway.credit.recognition import RecognitionRefused, recognise

    gw = state.gateway(request)
    f = await _form(request)
    user = state.user(request)
    orgs = gw.organization_names()
    try:
        holder = await learner_hash(gw, f.get("learner", ""))
        done = await recognise(
            gw,
            f.get("number", ""),
            organization=f.get("organization", ""),
            holder_hash=holder,
            holder_name=f.get("name") or None,
            operator=user.username if user else None,
        )
    except RecognitionRefused as exc:
        await trail.record(request, "recognise", f.get("number", ""), "refused")
        return await render.page(
            request, "verify.html", status=400, answer=exc.answer.summary(), organizations=orgs
        )
    except XgateError as exc:
        return await render.page(
            request, "verify.html", status=400, error=str(exc), organizations=orgs
        )
    await trail.record(request, "recognise", f.get("number", ""))
    return await render.page(
        request,
        "verify.html",
        answer=done.answer.summary(),
        recognised=done.credits_converted,
        organizations=orgs,
    )
