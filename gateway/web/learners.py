"""Learner look-up: search by 学号, name or ID number, then one learner's whole record.

The query is posted (never in a URL), the hit list shows masked ID numbers, a learner is
addressed by an opaque reference, and each search, view and transcript download is recorded
in the audit trail (who looked up whom, when, from where).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.credit.transcript import transcript_json, write_xlsx
from gateway.learners import LearnerDetail, learner_detail, search_learners
from gateway.masking import mask_text
from gateway.web import render, state, trail
from gateway.web.routes import PEOPLE, route


async def _search(request: web.Request, query: str) -> list[Any]:
    gw = state.gateway(request)
    async with gw.db.connect() as conn:
        hits = await search_learners(conn, query, gw.hash_id)
    await trail.record(request, "learner.search", query=query, detail=f"{len(hits)} found")
    return hits


async def _detail(request: web.Request) -> LearnerDetail | None:
    ref = request.match_info["ref"]
    async with state.gateway(request).db.connect() as conn:
        found = await learner_detail(conn, ref)
    await trail.record(request, "learner.view", ref, "ok" if found else "not_found")
    return found


@route("GET", "/learners", PEOPLE, name="learners", nav="nav.learners", order=40)
async def learners(request: web.Request) -> web.StreamResponse:
    return await render.page(request, "learners.html", hits=None, query="")


@route("POST", "/learners", PEOPLE, name="learners_search")
async def learners_search(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    query = str(form.get("q", "")).strip()[:64]
    hits = await _search(request, query) if query else []
    # an ID number typed in is not echoed back into the page
    return await render.page(request, "learners.html", hits=hits, query=mask_text(query))


@route("GET", "/learners/{ref}", PEOPLE, name="learner")
async def learner(request: web.Request) -> web.StreamResponse:
    found = await _detail(request)
    if found is None:
        return await render.not_found(request)
    return await render.page(request, "learner.html", d=found)


@route("GET", "/learners/{ref}/transcript.xlsx", PEOPLE, name="learner_transcript")
async def learner_transcript(request: web.Request) -> web.StreamResponse:
    found = await _detail(request)
    if found is None or found.transcript is None:
        return await render.not_found(request)
    transcript, ref = found.transcript, request.match_info["ref"]
    await trail.record(request, "learner.transcript", ref)
    return render.download(lambda p: write_xlsx(transcript, p), f"transcript-{ref}.xlsx")


@route("POST", "/api/learners/search", PEOPLE, name="api_learners_search")
async def api_learners_search(request: web.Request) -> web.StreamResponse:
    try:
        query = str((await request.json())["q"]).strip()[:64]
    except (ValueError, KeyError, TypeError):
        return render.api_error(request, 400, "bad_request")
    hits = await _search(request, query) if query else []
    return render.api_json({"learners": [vars(h) for h in hits]})


@route("GET", "/api/learners/{ref}", PEOPLE, name="api_learner")
async def api_learner(request: web.Request) -> web.StreamResponse:
    found = await _detail(request)
    if found is None:
        return await render.not_found(request, api=True)
    return render.api_json(
        {
            "learner": vars(found.person),
            "registrations": found.registrations,
            "scores": found.scores,
            "certificates": found.certificates,
            "transcript": transcript_json(found.transcript) if found.transcript else None,
        }
    )
