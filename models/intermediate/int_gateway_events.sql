-- grain: one row per gateway log record (event_id), stg_gateway with the person a gateway key
-- names. Keys an apiKeyHelper rotates map to a person through [[gateway.keys]]: the first entry
-- (config order) whose regex matches the record's key id and whose valid_from/valid_to
-- (inclusive/exclusive) hold the request's time. The key's person wins over a header's (the key
-- is what the gateway authenticated); its team over the record's team hint.
with events as (

    select * from stg_gateway

),

gateway_keys as (

    select * from ref_gateway_keys

),

keyed as (

    select
        e.event_id,
        k.developer as key_developer,
        k.team as key_team
    from events as e
    inner join gateway_keys as k
        on regexp_matches(e.key_id, k.match)
        and (k.valid_from is null or e.occurred_at >= k.valid_from)
        and (k.valid_to is null or e.occurred_at < k.valid_to)
    qualify row_number() over (partition by e.event_id order by k.key_order) = 1

),

final as (

    select
        e.event_id,
        e.source,
        e.provider,
        e.request_id,
        e.occurred_at,
        e.principal,
        coalesce(k.key_developer, e.person_hint) as person_hint,
        coalesce(k.key_team, e.team_hint) as team_hint,
        e.project,
        e.model_id,
        e.model,
        e.region,
        e.pricing_scope,
        e.input_tokens,
        e.output_tokens,
        e.cache_read_tokens,
        e.cache_write_5m_tokens,
        e.cache_write_1h_tokens,
        e.is_batch,
        e.reported_cost_usd,
        e.status,
        e.error_code,
        e.billable,
        e.gateway_role,
        e.gateway_name,
        e.provider_request_id,
        e.token_detail,
        e.key_id
    from events as e
    left join keyed as k on k.event_id = e.event_id

)

select * from final
