"""PostgreSQL's plans for a page's score look-up, generic against custom (``--explain``).

asyncpg prepares every statement once per connection and reuses it; after five executions
PostgreSQL (``plan_cache_mode = auto``) may switch a prepared statement to a generic plan, made
without the parameters' values. For ``id_hash IN ($1, ..., $500)`` that plan scans the whole
table. xgate's connections set ``force_custom_plan`` (``gateway.store.db.postgresql_settings``).
This prints ``EXPLAIN (ANALYZE)`` of the statement as the gateway sends it, prepared on a
synced table, under ``auto`` after six executions, ``force_generic_plan`` and
``force_custom_plan``, then the custom plan once more after ``ANALYZE`` (a table just filled
has no statistics yet, so even the custom plan scans it until autovacuum analyses it; the
sync's insert-first path runs this look-up only for records already stored), so the difference
is measured, not asserted.
"""

from __future__ import annotations


async def explain_lookups(schema: str, page_size: int) -> str:
    import asyncpg

    conn = await asyncpg.connect(
        host="127.0.0.1",
        port=5432,
        user="postgres",
        database="postgres",
        server_settings={"search_path": schema},
    )
    try:
        hashes = [
            r["id_hash"]
            for r in await conn.fetch(
                "SELECT id_hash FROM scores ORDER BY id DESC LIMIT $1", page_size
            )
        ]
        total = await conn.fetchval("SELECT count(*) FROM scores")
        marks = ", ".join(f"${i}::VARCHAR" for i in range(1, len(hashes) + 1))
        literal = ", ".join(f"'{h}'" for h in hashes)  # hex digests: nothing to escape
        out = [f"# EXPLAIN (ANALYZE) of a page's score look-up, {len(hashes)} of {total} rows"]
        for mode in ("auto", "force_generic_plan", "force_custom_plan", "analyzed"):
            if mode == "analyzed":  # what autovacuum's ANALYZE gives the planner later
                await conn.execute("ANALYZE scores")
                mode = "force_custom_plan"
                out.append("## after ANALYZE scores:")
            await conn.execute(f"SET plan_cache_mode = {mode}")
            await conn.execute(f"PREPARE lookup AS SELECT * FROM scores WHERE id_hash IN ({marks})")
            for _ in range(6):  # past PostgreSQL's five custom plans before it may go generic
                await conn.execute(f"EXECUTE lookup({literal})")
            rows = await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) EXECUTE lookup({literal})")
            await conn.execute("DEALLOCATE lookup")
            plan = [r[0] for r in rows]
            out.append(f"## plan_cache_mode = {mode}")
            out.extend(
                f"   {line[:160]}" for line in plan if not line.lstrip().startswith("Filter")
            )
        return "\n".join(out)
    finally:
        await conn.close()
