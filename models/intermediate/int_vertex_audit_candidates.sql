-- grain: one row per (Vertex response insertId, successful audit insertId) pair that could be the
-- same call: same project, region and canonical model, timestamps within
-- identity.vertex_match_window_seconds (default 2). int_vertex_audit_callers attributes a response
-- through a pair only when neither side has another candidate; vertex_attribution counts the
-- ambiguous ones. Time buckets of the window's width turn the nearest-time search into an
-- equality join with a fan-out of three.
with responses as (

    select * from int_vertex_responses

),

audit_entries as (

    select * from int_vertex_audit_successes

),

settings as (

    select
        coalesce(try_cast(identity_setting('vertex_match_window_seconds', '2') as double), 2)
            as window_seconds

),

audit_buckets as (

    select
        a.insert_id, a.project_id, a.region, a.model, a.occurred_at,
        cast(floor(epoch(a.occurred_at) / s.window_seconds) as bigint) as bucket
    from audit_entries as a, settings as s

),

response_buckets as (

    select
        r.insert_id, r.project_id, r.region, r.model, r.occurred_at,
        cast(floor(epoch(r.occurred_at) / s.window_seconds) as bigint) + o.step as bucket
    from responses as r, settings as s, (values (-1), (0), (1)) as o(step)

),

final as (

    select distinct r.insert_id as usage_insert_id, a.insert_id as audit_insert_id
    from response_buckets as r
    inner join audit_buckets as a
        on a.project_id = r.project_id
        and a.region = r.region
        and a.model = r.model
        and a.bucket = r.bucket
    cross join settings as s
    where abs(epoch(a.occurred_at) - epoch(r.occurred_at)) <= s.window_seconds

)

select * from final
