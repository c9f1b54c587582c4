-- grain: one row per UTC day x gateway (gateway_name): the gateway's own records, their counted
-- cost, how many could not split their tokens, and what the hop costs in time: p50/p95 of the
-- gateway's own latency (Kong's latencies.kong, a body logger's request time less upstream
-- time, Envoy's duration less upstream service time), where the gateway logs it. LiteLLM logs
-- only its whole time (endTime - startTime): its overhead is that less the provider's own
-- latency, for a request matched to a provider record that logs one (gateway_matches; Bedrock's
-- streaming Invoke and Converse records do), and NULL otherwise: never guessed.
with gateway_events as (

    select event_id, gateway_name, occurred_at, gateway_latency_ms, total_latency_ms
    from stg_gateway

),

events_latency as (

    select event_id, source, gateway_name, occurred_at, latency_ms from int_events

),

matches as (

    select event_id, gateway_event_id from gateway_matches

),

litellm_events as (

    select
        g.event_id,
        g.gateway_name,
        g.occurred_at,
        -- the provider's time cannot exceed the proxy's for the same request: a pair whose
        -- clocks say so measures nothing of the hop
        case when g.latency_ms >= p.latency_ms then g.latency_ms - p.latency_ms end
            as gateway_latency_ms,
        g.latency_ms as total_latency_ms
    from events_latency as g
    left join matches as m on m.gateway_event_id = g.event_id
    left join events_latency as p on p.event_id = m.event_id
    where g.source = 'litellm'

),

hops as (

    select * from gateway_events
    union all
    select * from litellm_events

),

events as (

    select event_id, counted, cost_usd, status, error_code, token_detail from usage_events

),

joined as (

    select g.*, e.counted, e.cost_usd, e.status, e.error_code, e.token_detail
    from hops as g
    inner join events as e on e.event_id = g.event_id

),

final as (

    select
        cast(occurred_at as date) as day,
        gateway_name as gateway,
        count(*) as requests,
        count(*) filter (where status = 'error') as errors,
        count(*) filter (where status = 'throttled') as throttled,
        -- the most frequent error (status code or error type) of the day
        mode(error_code) filter (where status <> 'ok') as top_error_code,
        count(*) filter (where token_detail = 'partial') as partial_requests,
        cast(coalesce(sum(cost_usd) filter (where counted), 0) as decimal(38, 12)) as cost_usd,
        cast(coalesce(sum(cost_usd) filter (where counted and token_detail = 'partial'), 0)
             as decimal(38, 12)) as partial_cost_usd,
        round(quantile_cont(gateway_latency_ms, 0.5), 1) as p50_overhead_ms,
        round(quantile_cont(gateway_latency_ms, 0.95), 1) as p95_overhead_ms,
        quantile_cont(total_latency_ms, 0.5) as p50_total_ms
    from joined
    group by 1, 2

)

select * from final
