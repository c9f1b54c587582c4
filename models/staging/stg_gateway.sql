-- grain: one row per gateway log record (gateway_name, request_id), rows of raw_gateway staged.
-- A gateway's own record (gateway_name set): where the provider's log of the same request is
-- also read under a [gateway] identity, marts/gateway_matches.sql counts the request once.
-- provider: who served the model behind the gateway (anthropic for first-party traffic,
-- bedrock / vertex when the gateway forwards there), its pricing scope from the model id.
-- token_detail is 'partial' where the format cannot split cached tokens (Kong, Cloudflare,
-- Envoy without cache fields, a truncated stream): priced on the counts logged (README).
-- After the staged columns: token_detail, the gateway's latencies and its own names.
with source as (

    select * from raw_gateway
    -- quarantined (models/checks/quarantined_gateway.sql): never fails the build
    where plausible_time(occurred_at)
        and plausible_tokens(input_tokens) and plausible_tokens(output_tokens)
        and plausible_tokens(cache_read_tokens) and plausible_tokens(cache_write_tokens)
        and plausible_tokens(cache_write_1h_tokens)

),

models as (

    -- each distinct model id once (a handful behind millions of records): without a router's
    -- prefix (bedrock/, anthropic/, vertex_ai/), resolved through the application profiles
    select
        model_id,
        canonical_model(resolved_model_id) as model,
        bedrock_pricing_scope(resolved_model_id) as bedrock_scope
    from (
        select
            model_id,
            resolve_model_id(regexp_replace(
                model_id, '^(bedrock|bedrock_converse|anthropic|vertex_ai)/', ''
            )) as resolved_model_id
        from (select distinct model_id from source) as ids
    ) as resolved

),

classified as (

    select
        s.*,
        case
            when lower(coalesce(s.provider, '')) like '%bedrock%' then 'bedrock'
            when lower(coalesce(s.provider, '')) like '%vertex%' then 'vertex'
            when s.provider is null or lower(s.provider) in ('anthropic', 'claude')
                then 'anthropic'
            else lower(s.provider)
        end as served_by,
        m.model,
        m.bedrock_scope
    from source as s
    left join models as m on m.model_id = s.model_id

),

final as (

    select
        'gateway:' || gateway_name || ':' || request_id as event_id,
        'gateway' as source,
        served_by as provider,
        request_id,
        occurred_at,
        coalesce(consumer, user_hint) as principal,
        -- a header naming the user, else a consumer whose name is an email
        coalesce(user_hint, case when consumer like '%@%' then consumer end) as person_hint,
        team_hint,
        cast(null as varchar) as project,
        model_id,
        model,
        region,
        case
            when served_by = 'bedrock' then bedrock_scope
            -- the Vertex endpoint's location where the log names it; else regional, the dearer
            when served_by = 'vertex' then vertex_pricing_scope(region)
            else 'global'
        end as pricing_scope,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        -- writes count as 5-minute writes unless the record shows the 1-hour share
        greatest(cache_write_tokens - coalesce(cache_write_1h_tokens, 0), 0)
            as cache_write_5m_tokens,
        least(coalesce(cache_write_1h_tokens, 0), cache_write_tokens) as cache_write_1h_tokens,
        false as is_batch,
        reported_cost_usd,
        case
            when (status_code is null or status_code < 400) and error_type is null then 'ok'
            when status_code = 429 or lower(coalesce(error_type, '')) like '%rate_limit%'
                then 'throttled'
            else 'error'
        end as status,
        case
            when (status_code is null or status_code < 400) and error_type is null then null
            else coalesce(error_type, cast(status_code as varchar))
        end as error_code,
        -- a response served from the gateway's own cache (Cloudflare) never reached a provider
        coalesce(request_mode, '') <> 'cache_hit' as billable,
        false as gateway_role,
        gateway_name,
        provider_request_id,
        token_detail,
        truncated,
        format,
        route,
        service,
        consumer_id,
        key_id,
        total_latency_ms,
        upstream_latency_ms,
        gateway_latency_ms
    from classified

)

select * from final
