-- grain: one row per provider-side event (Bedrock/Vertex, logged under a configured gateway
-- identity) matched to the LiteLLM spend-log row of the same request. usage_events marks these
-- event_ids counted = false: the request is counted once, from LiteLLM, where the developer is
-- known. Matching: first a provider request id LiteLLM kept (its own request_id when it is the
-- provider's response id, or error_information.error_provider_request_id); then the same
-- provider, model, status and token counts within [gateway] match_window_seconds (default 120),
-- nearest in time, each row used once (mutual nearest, in two rounds).
with events as (

    select * from stg_events

),

litellm_provider_ids as (

    select request_id, provider_request_id
    from raw_litellm_spend
    where provider_request_id is not null

),

settings as (

    select coalesce(max(match_window_seconds), 120) as window_seconds
    from ref_gateway_settings

),

provider_side as (

    select *, cache_write_5m_tokens + cache_write_1h_tokens as cache_write_tokens
    from events
    where source <> 'litellm' and gateway_role and provider in ('bedrock', 'vertex')

),

gateway_side as (

    select
        e.*,
        e.cache_write_5m_tokens + e.cache_write_1h_tokens as cache_write_tokens,
        ids.provider_request_id
    from events as e
    left join litellm_provider_ids as ids on ids.request_id = e.request_id
    where e.source = 'litellm' and e.provider in ('bedrock', 'vertex')

),

by_request_id as (

    select
        p.event_id,
        g.event_id as litellm_event_id,
        p.provider,
        p.request_id as provider_request_id,
        g.request_id as litellm_request_id,
        'provider_request_id' as match_method,
        abs(epoch(p.occurred_at) - epoch(g.occurred_at)) as seconds_apart
    from provider_side as p
    inner join gateway_side as g
        on g.provider = p.provider
        and (g.request_id = p.request_id or g.provider_request_id = p.request_id)
    qualify row_number() over (partition by p.event_id order by seconds_apart, g.event_id) = 1
        and row_number() over (partition by g.event_id order by seconds_apart, p.event_id) = 1

),

candidates as (

    select
        p.event_id,
        g.event_id as litellm_event_id,
        p.provider,
        p.request_id as provider_request_id,
        g.request_id as litellm_request_id,
        'time_model_tokens' as match_method,
        abs(epoch(p.occurred_at) - epoch(g.occurred_at)) as seconds_apart
    from provider_side as p
    cross join settings as s
    inner join gateway_side as g
        on g.provider = p.provider
        and g.model = p.model
        and g.status = p.status
        and g.input_tokens = p.input_tokens
        and g.output_tokens = p.output_tokens
        and g.cache_read_tokens = p.cache_read_tokens
        and g.cache_write_tokens = p.cache_write_tokens
        and g.occurred_at between p.occurred_at - to_seconds(s.window_seconds)
                              and p.occurred_at + to_seconds(s.window_seconds)
    where p.event_id not in (select event_id from by_request_id)
      and g.event_id not in (select litellm_event_id from by_request_id)

),

first_round as (

    select *
    from candidates
    qualify row_number() over (partition by event_id order by seconds_apart, litellm_event_id) = 1
        and row_number() over (
            partition by litellm_event_id order by seconds_apart, event_id) = 1

),

second_round as (

    select *
    from candidates
    where event_id not in (select event_id from first_round)
      and litellm_event_id not in (select litellm_event_id from first_round)
    qualify row_number() over (partition by event_id order by seconds_apart, litellm_event_id) = 1
        and row_number() over (
            partition by litellm_event_id order by seconds_apart, event_id) = 1

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
        litellm_event_id,
        provider,
        provider_request_id,
        litellm_request_id,
        match_method,
        cast(seconds_apart as decimal(18, 3)) as seconds_apart
    from matched

)

select * from final
