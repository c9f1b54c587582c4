-- grain: one row per provider-side event matched to the gateway record of the same request
-- (occurred_at: the provider record's time, the row's day).
-- A gateway record is a staged event with gateway_name set (LiteLLM's spend log, and any other
-- gateway source); the provider-side copy is a provider's own record (gateway_name NULL) logged
-- under a configured gateway identity (gateway_role). usage_events marks these event_ids
-- counted = false: the request is counted once, from the gateway, where the developer is known.
-- Matching: first a provider request id the gateway kept (its own request_id when it is the
-- provider's response id, or its provider_request_id), the two records within a day of each
-- other (they log the same request seconds apart; an id a day away is an id used again, and
-- the bound keeps a run's search to the days around it); then the same provider, model, status and
-- token counts within [gateway] match_window_seconds (default 120), nearest in time, each row
-- used once (mutual nearest, in two rounds).
-- Both searches are equality joins, never a comparison of every pair: the request ids in two
-- joins (an OR in one join condition compares every pair), and the token counts together with
-- a time bucket of the window's width (a gateway record within the window of a provider record
-- is in its bucket or the next one either side). Token counts alone repeat across history
-- (each Claude Code start sends the same one-token quota probe), so a join on them alone grows
-- with the square of the history.
with events as (

    select * from int_events

),

settings as (

    select
        coalesce(max(match_window_seconds), 120) as window_seconds,
        greatest(coalesce(max(match_window_seconds), 120), 1) as bucket_seconds
    from ref_gateway_settings

),

provider_side as (

    select *, cache_write_5m_tokens + cache_write_1h_tokens as cache_write_tokens
    from events
    where gateway_name is null and gateway_role

),

gateway_side as (

    select *, cache_write_5m_tokens + cache_write_1h_tokens as cache_write_tokens
    from events
    where gateway_name is not null

),

id_pairs as (

    select distinct p_event_id, g_event_id
    from (
        select p.event_id as p_event_id, g.event_id as g_event_id
        from provider_side as p
        inner join gateway_side as g
            on g.provider = p.provider and g.request_id = p.request_id
        where g.occurred_at between p.occurred_at - to_seconds(86400)
                                and p.occurred_at + to_seconds(86400)
        union all
        select p.event_id, g.event_id
        from provider_side as p
        inner join gateway_side as g
            on g.provider = p.provider and g.provider_request_id = p.request_id
        where g.occurred_at between p.occurred_at - to_seconds(86400)
                                and p.occurred_at + to_seconds(86400)
    ) as pairs

),

by_request_id as (

    select
        p.event_id,
        g.event_id as gateway_event_id,
        g.gateway_name,
        p.provider,
        p.request_id as provider_request_id,
        g.request_id as gateway_request_id,
        'provider_request_id' as match_method,
        abs(epoch(p.occurred_at) - epoch(g.occurred_at)) as seconds_apart,
        p.occurred_at
    from id_pairs as i
    inner join provider_side as p on p.event_id = i.p_event_id
    inner join gateway_side as g on g.event_id = i.g_event_id
    qualify row_number() over (partition by p.event_id order by seconds_apart, g.event_id) = 1
        and row_number() over (partition by g.event_id order by seconds_apart, p.event_id) = 1

),

provider_inputs as (

    -- each provider record with the input a gateway may have logged for it: the same counts, or
    -- (a gateway that cannot split cached tokens) the uncached input or the whole prompt
    select *, input_tokens as gateway_input_tokens, 'full' as gateway_detail
    from provider_side
    where event_id not in (select event_id from by_request_id)
    union all
    select *, input_tokens, 'partial'
    from provider_side
    where event_id not in (select event_id from by_request_id)
    union all
    select *, input_tokens + cache_read_tokens + cache_write_tokens, 'partial'
    from provider_side
    where event_id not in (select event_id from by_request_id)

),

provider_buckets as (

    select p.*, cast(floor(epoch(p.occurred_at) / s.bucket_seconds) as bigint) + o.step as bucket
    from provider_inputs as p
    cross join settings as s
    cross join (values (-1), (0), (1)) as o(step)

),

gateway_buckets as (

    select
        g.*,
        case when g.token_detail = 'partial' then 'partial' else 'full' end as detail,
        cast(floor(epoch(g.occurred_at) / s.bucket_seconds) as bigint) as bucket
    from gateway_side as g
    cross join settings as s
    where g.event_id not in (select gateway_event_id from by_request_id)

),

candidates as (

    select distinct
        p.event_id,
        g.event_id as gateway_event_id,
        g.gateway_name,
        p.provider,
        p.request_id as provider_request_id,
        g.request_id as gateway_request_id,
        'time_model_tokens' as match_method,
        abs(epoch(p.occurred_at) - epoch(g.occurred_at)) as seconds_apart,
        p.occurred_at
    from provider_buckets as p
    cross join settings as s
    inner join gateway_buckets as g
        on g.bucket = p.bucket
        and g.provider = p.provider
        and g.model = p.model
        and g.status = p.status
        and g.output_tokens = p.output_tokens
        and g.input_tokens = p.gateway_input_tokens
        and g.detail = p.gateway_detail
    where g.occurred_at between p.occurred_at - to_seconds(s.window_seconds)
                            and p.occurred_at + to_seconds(s.window_seconds)
      and (g.detail = 'partial'
           or (g.cache_read_tokens = p.cache_read_tokens
               and g.cache_write_tokens = p.cache_write_tokens))

),

first_round as (

    select *
    from candidates
    qualify row_number() over (partition by event_id order by seconds_apart, gateway_event_id) = 1
        and row_number() over (
            partition by gateway_event_id order by seconds_apart, event_id) = 1

),

second_round as (

    select *
    from candidates
    where event_id not in (select event_id from first_round)
      and gateway_event_id not in (select gateway_event_id from first_round)
    qualify row_number() over (partition by event_id order by seconds_apart, gateway_event_id) = 1
        and row_number() over (
            partition by gateway_event_id order by seconds_apart, event_id) = 1

),

matched as (

    select * from by_request_id
    union all
    select * from first_round
    union all
    select * from second_round

),

final as (

    select
        event_id,
        gateway_event_id,
        gateway_name,
        provider,
        provider_request_id,
        gateway_request_id,
        match_method,
        cast(seconds_apart as decimal(18, 3)) as seconds_apart,
        occurred_at
    from matched

)

select * from final
