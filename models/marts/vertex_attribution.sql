-- grain: one row per Vertex response (response id) and per successful audit entry that no response
-- joins to: how each was attributed, for `llmledger doctor` and the data-health view.
-- attribution: 'label' (a developer label), 'principal' (the entry names its caller),
-- 'audit_join' (exactly one audit entry matches, and it matches nothing else), 'ambiguous'
-- (candidates exist but not exactly one: left unattributed, never guessed), 'no_audit_entry',
-- 'audit_without_response' (a successful call whose tokens were never logged: not in
-- usage_events). The candidate counts and the one-to-one matches are
-- intermediate/int_vertex_audit_candidates.sql's, the matches int_vertex_events attributes through.
with responses as (

    select * from int_vertex_responses

),

audit_ok as (

    select * from int_vertex_audit_successes

),

events as (

    select event_id, developer, team, cost_usd from usage_events where source = 'vertex'

),

candidates as materialized (  -- read twice: computed once

    select * from int_vertex_audit_candidates

),

response_rows as (

    select
        r.event_id,
        r.insert_id,
        r.occurred_at,
        r.project_id,
        r.region,
        r.model,
        coalesce(c.candidates, 0) as candidates,
        c.matched_insert_id as matched_audit_insert_id,
        case
            when r.developer_label is not null then 'label'
            when r.principal is not null then 'principal'
            when c.matched_insert_id is not null then 'audit_join'
            when coalesce(c.candidates, 0) > 0 then 'ambiguous'
            else 'no_audit_entry'
        end as attribution
    from responses as r
    left join candidates as c on c.side = 'response' and c.insert_id = r.insert_id

),

audit_rows as (

    select
        cast(null as varchar) as event_id,
        a.insert_id,
        a.occurred_at,
        a.project_id,
        a.region,
        a.model,
        0 as candidates,
        a.insert_id as matched_audit_insert_id,
        'audit_without_response' as attribution
    from audit_ok as a
    where not exists (
        select 1 from candidates as c
        where c.side = 'audit' and c.insert_id = a.insert_id and c.candidates > 0
    )

),

final as (

    select
        x.event_id,
        x.insert_id,
        x.occurred_at,
        x.project_id,
        x.region,
        x.model,
        x.attribution,
        cast(x.candidates as bigint) as candidates,
        x.matched_audit_insert_id,
        e.developer,
        e.team,
        e.cost_usd
    from (select * from response_rows union all select * from audit_rows) as x
    left join events as e on e.event_id = x.event_id

)

select * from final
