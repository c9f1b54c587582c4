-- grain: one row per Vertex Messages response (side 'response', its insertId) and per successful
-- audit entry (side 'audit'): how many entries of the other side could be the same call (same
-- project, region and canonical model, timestamps within identity.vertex_match_window_seconds,
-- default 2, to the microsecond), and matched_insert_id, the other side's entry where both have
-- exactly one candidate: the only pairing ever used (int_vertex_audit_callers attributes
-- through it; an ambiguous join attributes nothing, never a guess). vertex_attribution reports
-- the counts.
-- Pairing every response with every audit entry in its window grows with the square of the
-- traffic: a busy project puts hundreds of calls of one model in every window (200,000
-- responses at 50 a second made 40M pairs and a 75 s build). So entries are put in time buckets
-- of the window's width; where no bucket near an entry is crowded (more than 32 entries), its
-- candidates are paired and counted (an equality join on the bucket with a fan-out of three, a
-- bounded number of pairs); near a crowded bucket they are counted without pairing: each side's
-- entries counted up to each instant, read at the window's two edges (asof joins; DuckDB only,
-- like every model before the lake: Spark builds the marts from the lake's staged events).
with responses as (

    select * from int_vertex_responses

),

audit_entries as (

    select * from int_vertex_audit_successes

),

settings as (

    select
        cast(round(coalesce(
            try_cast(identity_setting('vertex_match_window_seconds', '2') as double), 2
        ) * 1000000) as bigint) as window_us

),

steps as (

    select * from (values (-1), (0), (1)) as o(step)

),

all_entries as (

    select
        'response' as side, insert_id, project_id, region, model,
        epoch_us(occurred_at) as at_us
    from responses
    union all
    select
        'audit' as side, insert_id, project_id, region, model,
        epoch_us(occurred_at) as at_us
    from audit_entries

),

join_keys as (

    -- each project, region and model once, numbered: the joins below compare integers
    select project_id, region, model, row_number() over () as key_no
    from (
        select distinct project_id, region, model
        from all_entries
        where project_id is not null and region is not null and model is not null
    ) as k

),

entries as materialized (

    -- the entries that can have candidates, numbered, in time buckets of the window's width:
    -- an entry's candidates lie in its bucket and the two beside it
    select
        row_number() over () as entry_no,
        e.side = 'response' as is_response,
        e.insert_id, e.at_us,
        k.key_no,
        e.at_us // greatest(s.window_us, 1) as bucket,
        s.window_us
    from all_entries as e
    inner join join_keys as k
        on k.project_id = e.project_id and k.region = e.region and k.model = e.model
    cross join settings as s
    where s.window_us >= 0  -- a negative window matches nothing

),

buckets as (

    -- a bucket is crowded when it holds more than 32 entries of both sides together
    select key_no, bucket, count(*) > 32 as crowded
    from entries
    group by key_no, bucket

),

crowded_reach as (

    select distinct b.key_no, b.bucket + o.step as bucket
    from buckets as b
    cross join steps as o
    where b.crowded

),

classed as materialized (

    -- near_crowded: a crowded bucket is within one of the entry's, so its candidates are
    -- counted, not paired
    select
        e.*,
        r.bucket is not null as near_crowded
    from entries as e
    left join crowded_reach as r on r.key_no = e.key_no and r.bucket = e.bucket

),

paired_counts as (

    -- an entry with no crowded bucket near: its candidates paired and counted, at most 32 a
    -- bucket in the three buckets they can lie in
    select e.entry_no, count(*) as candidates
    from classed as e
    cross join steps as o
    inner join classed as x
        on x.key_no = e.key_no
        and x.bucket = e.bucket + o.step
        and x.is_response <> e.is_response
    where not e.near_crowded
        and abs(x.at_us - e.at_us) <= e.window_us
    group by e.entry_no

),

crowded as (

    select * from classed where near_crowded

),

running as (

    -- each side's entries counted up to each instant (ties together), where crowded entries
    -- need them
    select
        is_response, key_no, at_us,
        count(*) over (
            partition by is_response, key_no
            order by at_us
            range between unbounded preceding and current row
        ) as so_far
    from entries
    where key_no in (select key_no from crowded)

),

counted_crowded as (

    -- the other side's entries up to the window's end, less those before its start
    select
        c.entry_no,
        coalesce(hi.so_far, 0) - coalesce(lo.so_far, 0) as candidates
    from crowded as c
    asof left join running as hi
        on hi.is_response = not c.is_response
        and hi.key_no = c.key_no
        and c.at_us + c.window_us >= hi.at_us
    asof left join running as lo
        on lo.is_response = not c.is_response
        and lo.key_no = c.key_no
        and c.at_us - c.window_us > lo.at_us

),

counted as materialized (

    select
        c.entry_no, c.is_response, c.insert_id, c.at_us, c.key_no, c.bucket, c.window_us,
        cast(coalesce(n.candidates, 0) as bigint) as candidates
    from classed as c
    left join (
        select * from paired_counts
        union all
        select * from counted_crowded
    ) as n on n.entry_no = c.entry_no

),

single_responses as (

    select r.*, r.bucket + o.step as near_bucket
    from counted as r
    cross join steps as o
    where r.is_response and r.candidates = 1

),

single_audits as (

    select * from counted where not is_response and candidates = 1

),

pairs as (

    select
        r.entry_no as response_no,
        r.insert_id as response_insert_id,
        a.entry_no as audit_no,
        a.insert_id as audit_insert_id
    from single_responses as r
    inner join single_audits as a
        on a.key_no = r.key_no
        and a.bucket = r.near_bucket
    where abs(a.at_us - r.at_us) <= r.window_us

),

matched as (

    select response_no as entry_no, audit_insert_id as matched_insert_id from pairs
    union all
    select audit_no as entry_no, response_insert_id as matched_insert_id from pairs

),

final as (

    select
        case when c.is_response then 'response' else 'audit' end as side,
        c.insert_id,
        c.candidates,
        m.matched_insert_id
    from counted as c
    left join matched as m on m.entry_no = c.entry_no
    union all
    -- without a project, region or model (or with a negative window): no candidate
    select
        e.side,
        e.insert_id,
        cast(0 as bigint) as candidates,
        cast(null as varchar) as matched_insert_id
    from all_entries as e
    cross join settings as s
    where e.project_id is null or e.region is null or e.model is null or s.window_us < 0

)

select * from final
