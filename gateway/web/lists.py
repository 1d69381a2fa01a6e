"""Candidate lists: upload -> problems by row and column -> organization and plan -> preview
with fees and waivers -> confirm -> progress -> results workbook.

Every step calls the core path of ``xgate check`` / ``xgate submit`` (``gateway.intake.flow``):
the same checks, the same preview, the same outbox submission and the same results workbook,
written beside the uploaded file. Only staff and admins may use it; an upload is seen only by
the user who made it (and admins).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.web_request import FileField

from gateway.errors import InputError, XgateError
from gateway.intake import CheckedFile, IntakeFileError, build_preview
from gateway.intake.audit import file_sha256
from gateway.intake.flow import check_for, submit_and_report, submit_options
from gateway.intake.headers import FIELD_LABELS
from gateway.intake.registered import mark_registered
from gateway.web import render, state, trail
from gateway.web.jobs import Job
from gateway.web.routes import STAFF, route
from gateway.web.uploads import Upload

MIB = 1024 * 1024


def _upload(request: web.Request) -> Upload | None:
    found = request.app[state.UPLOADS].get(request.match_info["token"])
    user = state.user(request)
    if found is None or user is None or not found.path.exists():
        return None
    return found if found.owner == user.id or user.role == "admin" else None


async def _checked(request: web.Request, upload: Upload, form: Any) -> CheckedFile:
    """Check the upload: plainly (no organization yet), or for the chosen organization."""
    gw = state.gateway(request)
    org = str(form.get("organization") or "") if form else ""
    plan = str(form.get("plan") or "") or None if form else None
    allow = bool(form and form.get("allow_ineligible"))
    if org:
        if org not in gw.organization_names():
            raise InputError(f"organization {org!r} is not configured")
        options = submit_options(gw.settings, org, allow)
    else:
        options = {"allow_ineligible": allow, "keep_candidates": False}
    checked = check_for(upload.path, gw.settings, plan, options)
    async with gw.db.connect() as conn:
        await mark_registered(conn, checked, gw.hash_id, org or None)
    return checked


async def _show(request: web.Request, upload: Upload, form: Any, template: str) -> web.Response:
    gw = state.gateway(request)
    try:
        checked = await _checked(request, upload, form)
    except IntakeFileError as exc:
        return await render.page(
            request,
            "list_check.html",
            status=400,
            upload=upload,
            file_error=exc,
            preview=None,
            labels=FIELD_LABELS,
        )
    except XgateError as exc:
        return await render.page(
            request, "error.html", status=400, code="bad_request", message=str(exc)
        )
    return await render.page(
        request,
        template,
        upload=upload,
        preview=build_preview(checked),
        labels=FIELD_LABELS,
        organizations=gw.organization_names(),
        plans=sorted(gw.catalogue.plans.values(), key=lambda p: p.code),
        chosen={k: str(form.get(k) or "") for k in ("organization", "plan", "allow_ineligible")}
        if form
        else {},
        file_error=None,
    )


@route("GET", "/lists", STAFF, name="lists", nav="nav.lists", order=20)
async def lists(request: web.Request) -> web.StreamResponse:
    limit = state.gateway(request).settings.console.upload_max_mb
    return await render.page(request, "lists.html", limit_mb=limit)


async def _receive(request: web.Request) -> Upload | str:
    """Store the posted file; an error key when there is none or it is too large."""
    limit = state.gateway(request).settings.console.upload_max_mb * MIB
    if request.content_length is not None and request.content_length > limit + MIB:
        return "too_large"
    form = await request.post()
    field = form.get("file")
    if not isinstance(field, FileField):
        return "no_file"
    data = field.file.read()
    if len(data) > limit:
        return "too_large"
    user = state.user(request)
    assert user is not None
    try:
        upload = request.app[state.UPLOADS].save(field.filename, data, user.id, state.now(request))
    except InputError:
        return "bad_type"
    await trail.record(request, "list.upload", upload.path.name, detail=f"{len(data)} bytes")
    return upload


@route("POST", "/lists", STAFF, name="lists_upload")
async def lists_upload(request: web.Request) -> web.StreamResponse:
    got = await _receive(request)
    if isinstance(got, str):
        limit = state.gateway(request).settings.console.upload_max_mb
        status = 413 if got == "too_large" else 400
        return await render.page(
            request, "lists.html", status=status, error=f"upload.{got}", limit_mb=limit
        )
    return render.redirect(f"/lists/{got.token}")


@route("GET", "/lists/{token}", STAFF, name="list_check")
async def list_check(request: web.Request) -> web.StreamResponse:
    upload = _upload(request)
    if upload is None:
        return await render.not_found(request)
    return await _show(request, upload, None, "list_check.html")


@route("POST", "/lists/{token}/preview", STAFF, name="list_preview")
async def list_preview(request: web.Request) -> web.StreamResponse:
    upload = _upload(request)
    if upload is None:
        return await render.not_found(request)
    return await _show(request, upload, await request.post(), "list_preview.html")


def _start(
    request: web.Request, upload: Upload, checked: CheckedFile, org: str, plan: str | None
) -> Job:
    gw = state.gateway(request)
    user = state.user(request)
    assert user is not None

    async def work(job: Job) -> dict[str, Any]:
        data = await submit_and_report(
            gw,
            checked,
            organization=org,
            plan=plan,
            operator=f"console:{user.username}",
            file_sha256=file_sha256(upload.path),
            progress=job.advance,
        )
        data.pop("results_file", None)  # a server path: the page links to the download
        return data

    total = checked.count("valid")
    return request.app[state.JOBS].start(upload.token, total, work)


async def _submit(request: web.Request, upload: Upload, form: Any) -> Job | str:
    org = str(form.get("organization") or "")
    if not org:
        return "no_organization"
    try:
        checked = await _checked(request, upload, form)
    except XgateError as exc:
        await trail.record(request, "list.submit", upload.path.name, "refused", detail=str(exc))
        return "bad_request"
    plan = str(form.get("plan") or "") or None
    job = _start(request, upload, checked, org, plan)
    await trail.record(
        request, "list.submit", upload.path.name, detail=f"{org} {plan or '-'} {job.total} rows"
    )
    return job


@route("POST", "/lists/{token}/submit", STAFF, name="list_submit")
async def list_submit(request: web.Request) -> web.StreamResponse:
    upload = _upload(request)
    if upload is None:
        return await render.not_found(request)
    got = await _submit(request, upload, await request.post())
    if isinstance(got, str):
        return await render.page(request, "error.html", status=400, code=got)
    return render.redirect(f"/lists/{upload.token}/progress")


@route("GET", "/lists/{token}/progress", STAFF, name="list_progress")
async def list_progress(request: web.Request) -> web.StreamResponse:
    upload = _upload(request)
    job = request.app[state.JOBS].get(upload.token) if upload else None
    if upload is None or job is None:
        return await render.not_found(request)
    return await render.page(request, "list_progress.html", upload=upload, job=job)


@route("GET", "/lists/{token}/results.xlsx", STAFF, name="list_results")
async def list_results(request: web.Request) -> web.StreamResponse:
    upload = _upload(request)
    org = request.query.get("organization")
    if org is not None and org not in state.gateway(request).organization_names():
        return await render.not_found(request)
    found = upload.results(org) if upload else None
    if found is None:
        return await render.not_found(request)
    await trail.record(request, "list.results", found.name)
    return web.Response(
        body=found.read_bytes(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.name)}",
            "Cache-Control": "no-store",
        },
    )


@route("POST", "/api/lists", STAFF, name="api_lists_upload")
async def api_lists_upload(request: web.Request) -> web.StreamResponse:
    got = await _receive(request)
    if isinstance(got, str):
        return render.api_error(request, 413 if got == "too_large" else 400, got)
    try:
        checked = await _checked(request, got, None)
    except IntakeFileError as exc:
        return render.api_json({"token": got.token, "ok": False, "error": exc.as_dict()}, 400)
    preview = build_preview(checked)
    return render.api_json({"token": got.token, "ok": preview.invalid == 0, **preview.as_dict()})


@route("POST", "/api/lists/{token}/submit", STAFF, name="api_list_submit")
async def api_list_submit(request: web.Request) -> web.StreamResponse:
    upload = _upload(request)
    if upload is None:
        return await render.not_found(request, api=True)
    try:
        body = await request.json()
        form = {k: body.get(k) for k in ("organization", "plan", "allow_ineligible")}
    except (ValueError, AttributeError):
        return render.api_error(request, 400, "bad_request")
    got = await _submit(request, upload, form)
    if isinstance(got, str):
        return render.api_error(request, 400, got)
    job = await request.app[state.JOBS].wait(upload.token)
    assert job is not None
    link = f"/lists/{upload.token}/results.xlsx?organization={form['organization']}"
    return render.api_json({**job.as_dict(), "results_url": link})
