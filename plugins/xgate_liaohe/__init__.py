"""辽河职业技能评价平台 (Liaohe Vocational Skills Evaluation Platform): the built-in adapter for
an older Chinese "platform" style API.

Signed requests (app key, timestamp, nonce, HMAC-SHA256 or MD5 over sorted parameters), errors
as codes inside HTTP 200 bodies, registration by GB18030 CSV (or XLSX) upload with a job to
poll, page-number listings ordered by last update, and score results as CSV downloads. The
wire protocol is described in ``docs/organizations/liaohe.md``.
"""

__version__ = "0.1.0"
