"""dlt, the general loader, syncing the same organization: the contender xgate must beat.

dlt 1.31's ``rest_api`` source, configured as a data engineer would for Beifang: OAuth2 client
credentials (form fields, as Beifang asks), the JSON cursor paginator (``next_cursor`` into
``?cursor=``, stopping on ``has_more``), records under ``data``, page size 500, and a ``merge``
write disposition on the natural key. The natural key is (plan, hashed ID number), as xgate
stores it: a map step replaces the candidate's ID number by the same salted SHA-256 before
dlt sees the record, so neither side stores a raw ID number. Into the same kind of database:
SQLite through dlt's ``sqlalchemy`` destination, PostgreSQL through its ``postgres``
destination. Every round starts from a fresh pipeline folder and a fresh database.

dlt writes one table of scores (it infers the schema, flattens the nested certificate into
columns, and keeps no history, no accounts and no credit); that difference is what the ratio
measures. dlt is in the ``bench`` extra only (``pip install -e ".[bench]"``), never a runtime
dependency of xgate; ``available()`` says whether it is installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import uuid
from pathlib import Path
from typing import Any

from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

PG_DSN = "postgresql://postgres:@127.0.0.1:5432/postgres"


def available() -> bool:
    return importlib.util.find_spec("dlt") is not None


def warm() -> None:
    """Import dlt and its REST source before any clock starts (a loader's import is not a
    sync's cost; xgate's is not counted either)."""
    import dlt  # noqa: F401
    from dlt.sources.rest_api import rest_api_source  # noqa: F401


def _hashed(salt: str) -> Any:
    def natural_key(item: dict[str, Any]) -> dict[str, Any]:
        candidate = item.pop("candidate")
        item["id_hash"] = hashlib.sha256(f"{salt}:{candidate['id_number']}".encode()).hexdigest()
        item["name"] = candidate["name"]
        return item

    return natural_key


def source(base_url: str, page_size: int, salt: str) -> Any:
    from dlt.sources.rest_api import rest_api_source

    return rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "auth": {
                    "type": "oauth2_client_credentials",
                    "access_token_url": f"{base_url}/oauth/token",
                    "client_id": DEFAULT_CLIENT_ID,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                },
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "next_cursor",
                    "cursor_param": "cursor",
                    "has_more_path": "has_more",
                },
            },
            "resources": [
                {
                    "name": "scores",
                    "endpoint": {
                        "path": "v1/scores",
                        "params": {"limit": page_size},
                        "data_selector": "data",
                    },
                    "primary_key": ["plan", "id_hash"],
                    "write_disposition": "merge",
                    "processing_steps": [{"map": _hashed(salt)}],
                }
            ],
        }
    )


def run(
    base_url: str, page_size: int, salt: str, backend: str, folder: Path, schema: str | None
) -> int:
    """One full dlt load into a fresh database; the number of score rows it holds after."""
    import dlt

    tag = uuid.uuid4().hex[:8]
    if backend == "sqlite":
        path = folder / f"dlt-{tag}.db"
        destination: Any = dlt.destinations.sqlalchemy(credentials=f"sqlite:///{path}")
        dataset = "main"
    else:
        assert schema is not None
        destination = dlt.destinations.postgres(credentials=PG_DSN)
        dataset = schema
    pipeline = dlt.pipeline(
        pipeline_name=f"xgate_bench_{tag}",
        pipelines_dir=str(folder / f"dlt-pipelines-{tag}"),
        destination=destination,
        dataset_name=dataset,
    )
    info = pipeline.run(source(base_url, page_size, salt))
    info.raise_on_failed_jobs()
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT count(*) FROM scores")
        if backend != "sqlite":  # dlt's merge stages in a schema of its own
            client.execute_sql(f'DROP SCHEMA IF EXISTS "{dataset}_staging" CASCADE')
    return int(rows[0][0])
