-- grain: one row per UTC day x source x provider x model x pricing_scope x developer x team x
-- cost_center x status x counted; the rollup every report reads.
with events as (

    select * from usage_events

),

final as (

    select
        cast(timezone('UTC', occurred_at) as date) as day,
        source,
        provider,
        model,
        pricing_scope,
        developer,
        team,
        cost_center,
        status,
        counted,
        count(*) as requests,
        sum(cast(input_tokens as hugeint)) as input_tokens,
        sum(cast(output_tokens as hugeint)) as output_tokens,
        sum(cast(cache_read_tokens as hugeint)) as cache_read_tokens,
        sum(cast(cache_write_5m_tokens as hugeint)) as cache_write_5m_tokens,
        sum(cast(cache_write_1h_tokens as hugeint)) as cache_write_1h_tokens,
        cast(sum(cost_usd) as decimal(38, 12)) as cost_usd,
        cast(sum(reported_cost_usd) as decimal(38, 12)) as reported_cost_usd,
        count(*) filter (where unpriced) as unpriced_requests,
        -- list cost had every prompt token been uncached input (priced rows only): the
        -- difference to cost_usd is what prompt caching saved
        cast(sum(uncached_cost_usd) as decimal(38, 12)) as uncached_cost_usd
    from events
    group by all

)

select * from final
