-- grain: one row per Claude Code session (session_id) seen in telemetry: who, when, how many
-- requests and errors, tokens, cost and active time.
-- The developer is the one its api_request events resolve to (claude_code_attribution). cost_usd
-- is what usage_events counts for the session's requests: the provider record's list cost where
-- an event matched one, the event's own priced row where no provider record exists (ambiguous
-- events add nothing: their spend stays with the provider records, unattributed).
-- reported_cost_usd is the client's own estimate. active_seconds sums the
-- claude_code.active_time.total metric's deltas (delta and cumulative exports alike).
with telemetry as (

    select * from stg_claude_code

),

attribution as (

    select * from claude_code_attribution

),

usage_rows as (

    -- only the rows a session's request can point at (its own, or its matched provider record)
    select event_id, cost_usd, counted from usage_events
    where event_id in (select event_id from telemetry)
       or event_id in (select provider_event_id from attribution)

),

metric_deltas as (

    select * from int_claude_code_metric_deltas

),

requests as (

    select
        t.session_id,
        t.event_id,
        t.event_name,
        t.occurred_at,
        t.input_tokens,
        t.output_tokens,
        t.cache_read_tokens,
        t.cache_write_5m_tokens + t.cache_write_1h_tokens as cache_write_tokens,
        t.reported_cost_usd,
        a.developer,
        a.team,
        case
            when a.provider_event_id is not null then p.cost_usd
            when own.counted then own.cost_usd
        end as cost_usd
    from telemetry as t
    left join attribution as a on a.telemetry_event_id = t.event_id
    left join usage_rows as p on p.event_id = a.provider_event_id
    left join usage_rows as own on own.event_id = t.event_id
    where t.session_id is not null

),

per_session as (

    select
        session_id,
        min(occurred_at) as first_at,
        max(occurred_at) as last_at,
        -- a session is one person's; where its events resolve to several (identities that
        -- disagree), the first event's, so every build picks the same one
        coalesce(
            arg_min(developer, (occurred_at, event_id)) filter (where developer <> 'unattributed'),
            'unattributed'
        ) as developer,
        coalesce(
            arg_min(team, (occurred_at, event_id)) filter (where team <> 'unattributed'),
            'unattributed'
        ) as team,
        count(*) filter (where event_name = 'api_request') as requests,
        count(*) filter (where event_name = 'api_error') as errors,
        cast(sum(input_tokens) filter (where event_name = 'api_request') as bigint) as input_tokens,
        cast(sum(output_tokens) filter (where event_name = 'api_request') as bigint) as output_tokens,
        cast(sum(cache_read_tokens) filter (where event_name = 'api_request') as bigint) as cache_read_tokens,
        cast(sum(cache_write_tokens) filter (where event_name = 'api_request') as bigint) as cache_write_tokens,
        cast(sum(cost_usd) as decimal(38, 12)) as cost_usd,
        cast(sum(reported_cost_usd) as decimal(38, 12)) as reported_cost_usd
    from requests
    group by session_id

),

activity as (

    select session_id, sum(delta_value) as active_seconds
    from metric_deltas
    where metric_name = 'claude_code.active_time.total' and session_id is not null
    group by session_id

),

final as (

    select
        s.session_id,
        cast(s.first_at as date) as day,
        s.first_at,
        s.last_at,
        s.developer,
        s.team,
        s.requests,
        s.errors,
        s.input_tokens,
        s.output_tokens,
        s.cache_read_tokens,
        s.cache_write_tokens,
        s.cost_usd,
        s.reported_cost_usd,
        cast(coalesce(a.active_seconds, 0) as decimal(18, 3)) as active_seconds
    from per_session as s
    left join activity as a on a.session_id = s.session_id

)

select * from final
