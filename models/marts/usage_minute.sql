-- grain: one row per minute x source x provider x region x model x pricing_scope x developer x
-- team. Every event (counted or not): provider-side rows are what consume provider quota.
with events as (

    select * from usage_events

),

final as (

    select
        date_trunc('minute', occurred_at) as minute_at,
        source,
        provider,
        region,
        model,
        pricing_scope,
        developer,
        team,
        count(*) as requests,
        count(*) filter (where status = 'throttled') as throttled_requests,
        count(*) filter (where status = 'error') as error_requests,
        sum(cast(input_tokens as hugeint)) as input_tokens,
        sum(cast(output_tokens as hugeint)) as output_tokens,
        sum(cast(cache_read_tokens as hugeint)) as cache_read_tokens,
        sum(cast(cache_write_5m_tokens as hugeint)) as cache_write_5m_tokens,
        sum(cast(cache_write_1h_tokens as hugeint)) as cache_write_1h_tokens,
        -- tokens against a TPM quota: input + cache writes + burndown x output (cache reads
        -- do not count); burndown is 5 for Claude 3.7 / 4.x on Bedrock, else 1
        sum(cast(input_tokens as hugeint) + cache_write_5m_tokens + cache_write_1h_tokens
            + burndown_rate(provider, model) * cast(output_tokens as hugeint)) as quota_tokens
    from events
    group by all

)

select * from final
-- stored in time order, so a query for a few minutes (the rate-limit view's peak drivers) reads
-- only their blocks instead of the whole table
order by minute_at
