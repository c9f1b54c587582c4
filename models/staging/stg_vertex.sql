-- grain: one row per Vertex request: each Messages response (response id) from raw_vertex_usage,
-- plus each failed or count-tokens call from raw_vertex_audit (audit insertId); staged.
-- Renames and casts only: the same response logged twice (two shards, two collectors) counts
-- once, the copy with labels wins. No Vertex log carries both the caller and the tokens
-- (reference/vertex.md §1): a response's principal here is its own (NULL where the log has
-- none); intermediate/int_vertex_events.sql fills in the caller of the one audit entry it joins
-- to. Successful audit entries without a response are not requests here (their tokens are
-- unknown); marts/vertex_attribution.sql counts them.
-- After the staged columns: vertex_log ('response' or 'audit'), insert_id, project_id and
-- developer_label, which the intermediate Vertex models read.
with usage_entries as (

    select * from raw_vertex_usage
    -- quarantined (models/checks/quarantined_vertex.sql): never fails the build
    where plausible_time(occurred_at)
        and plausible_tokens(input_tokens) and plausible_tokens(output_tokens)
        and plausible_tokens(cache_read_tokens) and plausible_tokens(cache_creation_tokens)
        and plausible_tokens(cache_write_5m_tokens) and plausible_tokens(cache_write_1h_tokens)

),

audit_entries as (

    select * from raw_vertex_audit
    where plausible_time(occurred_at)

),

settings as (

    select
        identity_setting('vertex_label_developer_key', 'developer') as developer_key,
        identity_setting('vertex_label_team_key', 'team') as team_key,
        identity_setting('vertex_label_project_key', 'project') as project_key

),

model_ids as (

    -- each distinct model id once (a handful behind millions of rows), canonicalised
    select model_id, canonical_model(model_id) as canonical
    from (
        select model_id from usage_entries
        union
        select model_id from audit_entries
    ) as ids

),

responses as (

    -- one row per response: the same response logged twice (two shards, two collectors)
    -- counts once; the copy with labels wins
    select u.*, m.canonical
    from usage_entries as u
    left join model_ids as m on m.model_id is not distinct from u.model_id
    qualify row_number() over (
        partition by u.response_id order by u.labels is null, u.occurred_at, u.insert_id
    ) = 1

),

audit_calls as (

    select
        a.*,
        m.canonical,
        m.canonical = 'count-tokens' as is_count_tokens
    from audit_entries as a
    left join model_ids as m on m.model_id is not distinct from a.model_id

),

response_events as (

    select
        'vertex:' || r.response_id as event_id,
        r.response_id as request_id,
        r.occurred_at,
        r.principal,
        coalesce(
            json_tag(r.labels, s.developer_key),
            case when r.principal like '%@%' and r.principal not like '%.gserviceaccount.com'
                 then r.principal end
        ) as person_hint,
        json_tag(r.labels, s.team_key) as team_hint,
        json_tag(r.labels, s.project_key) as project,
        r.model_id,
        r.canonical as model,
        r.region,
        r.input_tokens,
        r.output_tokens,
        r.cache_read_tokens,
        -- where the entry lacks the 5m/1h split, every cache write is a 5-minute write
        coalesce(
            r.cache_write_5m_tokens,
            greatest(r.cache_creation_tokens - coalesce(r.cache_write_1h_tokens, 0), 0)
        ) as cache_write_5m_tokens,
        coalesce(r.cache_write_1h_tokens, 0) as cache_write_1h_tokens,
        'ok' as status,
        cast(null as varchar) as error_code,
        true as billable,
        'response' as vertex_log,
        r.insert_id,
        r.project_id,
        json_tag(r.labels, s.developer_key) as developer_label
    from responses as r, settings as s

),

call_events as (

    -- calls that produced no response: throttled or failed, and count-tokens (not billable)
    select
        'vertex:audit:' || a.insert_id as event_id,
        a.insert_id as request_id,
        a.occurred_at,
        a.principal_email as principal,
        coalesce(
            json_tag(a.labels, s.developer_key),
            case when a.delegation_chain[1] like '%@%'
                      and a.delegation_chain[1] not like '%.gserviceaccount.com'
                 then a.delegation_chain[1] end,
            case when a.principal_email like '%@%'
                      and a.principal_email not like '%.gserviceaccount.com'
                 then a.principal_email end
        ) as person_hint,
        json_tag(a.labels, s.team_key) as team_hint,
        json_tag(a.labels, s.project_key) as project,
        a.model_id,
        a.canonical as model,
        a.region,
        cast(0 as bigint) as input_tokens,
        cast(0 as bigint) as output_tokens,
        cast(0 as bigint) as cache_read_tokens,
        cast(0 as bigint) as cache_write_5m_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        case
            when a.status_code = 0 then 'ok'
            when a.status_code = 8 then 'throttled'  -- RESOURCE_EXHAUSTED (HTTP 429)
            else 'error'
        end as status,
        case a.status_code
            when 0 then null
            when 1 then 'CANCELLED'
            when 2 then 'UNKNOWN'
            when 3 then 'INVALID_ARGUMENT'
            when 4 then 'DEADLINE_EXCEEDED'
            when 5 then 'NOT_FOUND'
            when 7 then 'PERMISSION_DENIED'
            when 8 then 'RESOURCE_EXHAUSTED'
            when 9 then 'FAILED_PRECONDITION'
            when 13 then 'INTERNAL'
            when 14 then 'UNAVAILABLE'
            when 16 then 'UNAUTHENTICATED'
            else cast(a.status_code as varchar)
        end as error_code,
        not a.is_count_tokens as billable,
        'audit' as vertex_log,
        a.insert_id,
        a.project_id,
        json_tag(a.labels, s.developer_key) as developer_label
    from audit_calls as a, settings as s
    where a.status_code <> 0 or a.is_count_tokens

),

events as (

    select * from response_events
    union all
    select * from call_events

),

final as (

    select
        event_id,
        'vertex' as source,
        'vertex' as provider,
        request_id,
        occurred_at,
        e.principal,
        person_hint,
        team_hint,
        project,
        model_id,
        model,
        region,
        -- global endpoint at list price, any regional or multi-region one with the premium;
        -- an unknown region is not priced as either
        case when region is not null then vertex_pricing_scope(region) end as pricing_scope,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_5m_tokens,
        cache_write_1h_tokens,
        false as is_batch,
        cast(null as decimal(38, 12)) as reported_cost_usd,
        status,
        error_code,
        billable,
        g.gateway_role,
        cast(null as varchar) as gateway_name,
        cast(null as varchar) as provider_request_id,
        vertex_log,
        insert_id,
        project_id,
        developer_label
    from events as e
    -- each distinct principal tried against the gateway identities once, not every row
    left join (
        select principal, is_gateway_identity(principal) as gateway_role
        from (select distinct principal from events) as p
    ) as g on g.principal is not distinct from e.principal

)

select * from final
