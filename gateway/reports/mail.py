"""Sending the weekly workbook by e-mail (``[report.email]``; aiosmtplib).

One message to every configured recipient: a short Chinese summary in the body (or "本周无业务
活动" for a quiet week) and the workbook attached. Failures are typed: a refused login or an
unreachable server raises ``ConfigurationError`` naming the server (exit 3), never a traceback;
the password is a secret and is masked in every log line.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from gateway.errors import ConfigurationError
from gateway.reports.sheets import METRIC_LABELS
from gateway.reports.weekly import WeeklyReport
from gateway.settings import ReportEmail

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
SUMMARY_METRICS = ("registrations", "sat", "passed", "certificates_issued", "credits_converted")


def weekly_message(report: WeeklyReport, workbook: Path, settings: ReportEmail) -> EmailMessage:
    week = report.week
    college = report.college or "本校"
    message = EmailMessage()
    message["Subject"] = f"{college}1+X证书工作周报 {week.label}（{week.monday}至{week.sunday}）"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    if report.quiet:
        lines = [f"{week.label}（{week.monday}至{week.sunday}）本周无业务活动。"]
    else:
        lines = [f"{week.label}（{week.monday}至{week.sunday}，北京时间）本周概况："]
        for metric in SUMMARY_METRICS:
            lines.append(f"  {METRIC_LABELS[metric]}：{report.this_week[metric]}")
        rate = report.this_week.pass_rate
        lines.append(f"  通过率：{rate}%" if rate is not None else "  通过率：—")
    a = report.attention
    if a.failed_syncs or a.quarantined_week or a.unsettled_total:
        lines.append(
            f"需关注：同步失败{a.failed_syncs}次，本周隔离记录{a.quarantined_week}条，"
            f"未结报名{a.unsettled_total}条。"
        )
    lines.append("详见附件。")
    message.set_content("\n".join(lines))
    message.add_attachment(
        workbook.read_bytes(), maintype=XLSX[0], subtype=XLSX[1], filename=workbook.name
    )
    return message


async def send_report(message: EmailMessage, settings: ReportEmail) -> None:
    import aiosmtplib

    try:
        await aiosmtplib.send(
            message,
            sender=settings.sender,
            recipients=settings.recipients,
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            use_tls=settings.use_tls,
            start_tls=settings.start_tls or None,
            timeout=settings.timeout,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise ConfigurationError(
            f"cannot send the report through {settings.host}:{settings.port}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
