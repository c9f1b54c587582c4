-- grain: one row per Claude Code api_request telemetry event (telemetry_event_id), with the
-- provider-side record of the same request it was matched to, if exactly one.
-- The telemetry says who sent a request; the provider (or gateway) log says what it cost.
-- Matching (each provider record at most once): first the request id, where the provider or
-- gateway logged the one the client saw (request_id or provider_request_id), the two within a
-- day of each other (an id a day away is an id used again, not the request); else the same
-- canonical model and exact token counts (input, output, cache read, cache write), the provider
-- record's time between the request's start (the event's time less duration_ms: the event is
-- emitted when the response ends) and its end, give or take [gateway] match_window_seconds
-- (default 120); a duration is taken as at most an hour (no request streams longer; a larger
-- one is a client's clock error and would only widen the search). The token search is an
-- equality join on the counts and a time bucket of the window's width, never on the counts
-- alone: they repeat across history (each Claude Code start sends the same one-token quota
-- probe), and a join on them alone grows with the square of the history. A match must be
-- unique both ways: one candidate record for the event and one
-- candidate event for the record; anything else is 'ambiguous' and attributes nothing. Provider records considered are the counted
-- ones (not a provider's copy of a gateway's record). usage_events gives a matched provider
-- record the developer, team and cost centre resolved for the telemetry event when its own
-- identity is 'unattributed' or 'service' (a shared role, a service account). Telemetry never
-- adds spend beside a provider log: an event is counted (counts_spend) only when no provider
-- or gateway record of its model exists on its UTC day ('no_provider_record': e.g. the
-- Anthropic API, whose usage no log here holds); one that matches nothing although such
-- records exist is 'unmatched' and not counted.
with events as (

    select * from int_events

),

identities as (

    select * from identity_map

),

telemetry_extra as (

    select event_id, session_id, user_email, user_id, cost_center_attribute, duration_ms
    from stg_claude_code

),

settings as (

    select
        coalesce(max(match_window_seconds), 120) as window_seconds,
        greatest(coalesce(max(match_window_seconds), 120), 1) as bucket_seconds
    from ref_gateway_settings

),

provider_copies as (

    select distinct event_id from gateway_matches

),

telemetry as (

    -- the event is emitted when the response ends: the request started duration_ms earlier
    select
        e.*,
        e.cache_write_5m_tokens + e.cache_write_1h_tokens as cache_write_tokens,
        e.occurred_at
            - to_milliseconds(least(greatest(coalesce(x.duration_ms, 0), 0), 3600000))
            as started_at
    from events as e
    left join telemetry_extra as x on x.event_id = e.event_id
    where e.source = 'claude_code' and e.billable

),

telemetry_day_series as (

    -- the UTC days a telemetry event's time-window match can reach (its start less the window
    -- to its end plus the window): only provider records on those days, or carrying one of
    -- the telemetry's request ids, can be candidates, so the rest of history is never read
    select unnest(generate_series(
        date_trunc('day', timezone('UTC', t.started_at - to_seconds(s.window_seconds))),
        date_trunc('day', timezone('UTC', t.occurred_at + to_seconds(s.window_seconds))),
        interval 1 day
    )) as day_start
    from telemetry as t
    cross join settings as s

),

telemetry_days as (

    select distinct cast(day_start as date) as day from telemetry_day_series

),

telemetry_request_ids as (

    select distinct request_id from telemetry where request_id is not null

),

provider_side as (

    select
        e.event_id,
        e.request_id,
        e.provider_request_id,
        e.model,
        e.occurred_at,
        e.input_tokens,
        e.output_tokens,
        e.cache_read_tokens,
        e.cache_write_5m_tokens + e.cache_write_1h_tokens as cache_write_tokens
    from events as e
    where e.source <> 'claude_code'
      and e.event_id not in (select event_id from provider_copies)
      and (
          cast(timezone('UTC', e.occurred_at) as date) in (select day from telemetry_days)
          or e.request_id in (select request_id from telemetry_request_ids)
          or e.provider_request_id in (select request_id from telemetry_request_ids)
      )

),

id_candidates as (

    -- two equi-joins (an OR in one join condition would compare every pair)
    select distinct telemetry_event_id, provider_event_id, seconds_apart
    from (
        select
            t.event_id as telemetry_event_id,
            p.event_id as provider_event_id,
            abs(epoch(p.occurred_at) - epoch(t.occurred_at)) as seconds_apart
        from telemetry as t
        inner join provider_side as p on p.request_id = t.request_id
        where p.occurred_at between t.occurred_at - to_seconds(86400)
                                and t.occurred_at + to_seconds(86400)
        union all
        select
            t.event_id,
            p.event_id,
            abs(epoch(p.occurred_at) - epoch(t.occurred_at))
        from telemetry as t
        inner join provider_side as p on p.provider_request_id = t.request_id
        where p.occurred_at between t.occurred_at - to_seconds(86400)
                                and t.occurred_at + to_seconds(86400)
    ) as pairs

),

telemetry_buckets as (

    -- the time buckets (the window's width) from the request's start to its end, and one more
    -- either side: a provider record within the window is in one of them
    select
        t.event_id, t.model, t.input_tokens, t.output_tokens, t.cache_read_tokens,
        t.cache_write_tokens, t.started_at, t.occurred_at,
        unnest(generate_series(
            cast(floor(epoch(t.started_at) / s.bucket_seconds) as bigint) - 1,
            cast(floor(epoch(t.occurred_at) / s.bucket_seconds) as bigint) + 1
        )) as bucket
    from telemetry as t
    cross join settings as s
    where t.event_id not in (select telemetry_event_id from id_candidates)

),

provider_buckets as (

    select p.*, cast(floor(epoch(p.occurred_at) / s.bucket_seconds) as bigint) as bucket
    from provider_side as p
    cross join settings as s
    where p.event_id not in (select provider_event_id from id_candidates)

),

token_candidates as (

    select
        t.event_id as telemetry_event_id,
        p.event_id as provider_event_id,
        abs(epoch(p.occurred_at) - epoch(t.occurred_at)) as seconds_apart
    from telemetry_buckets as t
    cross join settings as s
    inner join provider_buckets as p
        on p.bucket = t.bucket
        and p.model = t.model
        and p.input_tokens = t.input_tokens
        and p.output_tokens = t.output_tokens
        and p.cache_read_tokens = t.cache_read_tokens
        and p.cache_write_tokens = t.cache_write_tokens
    where p.occurred_at between t.started_at - to_seconds(s.window_seconds)
                            and t.occurred_at + to_seconds(s.window_seconds)

),

candidates as (

    select *, 'request_id' as match_method from id_candidates
    union all
    select *, 'model_tokens_time' as match_method from token_candidates

),

counted_candidates as (

    select
        *,
        count(*) over (partition by telemetry_event_id) as records_for_event,
        count(*) over (partition by provider_event_id) as events_for_record
    from candidates

),

per_event as (

    select
        telemetry_event_id,
        count(*) as candidates,
        max(records_for_event = 1 and events_for_record = 1) as unique_match,
        any_value(provider_event_id) filter (
            where records_for_event = 1 and events_for_record = 1) as provider_event_id,
        any_value(match_method) as match_method,
        min(seconds_apart) as seconds_apart
    from counted_candidates
    group by telemetry_event_id

),

covered_days as (

    -- a model and UTC day for which provider or gateway records exist: a telemetry event there
    -- that matches none is a matching failure (or a lost log line), not spend of its own
    select distinct model, cast(occurred_at as date) as day from provider_side

),

final as (

    select
        t.event_id as telemetry_event_id,
        case when m.unique_match then m.provider_event_id end as provider_event_id,
        case
            when m.unique_match then m.match_method
            when m.telemetry_event_id is not null then 'ambiguous'
            when c.model is not null then 'unmatched'
            else 'no_provider_record'
        end as match_method,
        -- only an event no provider or gateway log could hold is spend of its own
        m.telemetry_event_id is null and c.model is null as counts_spend,
        coalesce(m.candidates, 0) as candidates,
        cast(m.seconds_apart as decimal(18, 3)) as seconds_apart,
        t.occurred_at,
        t.model,
        x.session_id,
        x.user_email,
        x.user_id,
        coalesce(i.developer, 'unattributed') as developer,
        case
            when coalesce(i.team, 'unattributed') = 'unattributed' and t.team_hint is not null
                then t.team_hint
            else coalesce(i.team, 'unattributed')
        end as team,
        case
            when coalesce(i.cost_center, 'unattributed') = 'unattributed'
                 and x.cost_center_attribute is not null
                then x.cost_center_attribute
            else coalesce(i.cost_center, 'unattributed')
        end as cost_center,
        coalesce(i.identity_status, 'unattributed') as telemetry_identity_status,
        t.reported_cost_usd
    from telemetry as t
    left join per_event as m on m.telemetry_event_id = t.event_id
    left join covered_days as c
        on c.model = t.model and c.day = cast(t.occurred_at as date)
    left join telemetry_extra as x on x.event_id = t.event_id
    left join identities as i
        on i.source = t.source
        and i.principal is not distinct from t.principal
        and i.person_hint is not distinct from t.person_hint
        and i.team_hint is not distinct from t.team_hint

)

select * from final
