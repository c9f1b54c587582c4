-- grain: one row per minute x source x provider x region x model x pricing_scope: usage_minute
-- without the people, for measuring shared quotas (the dashboard's rate-limit view). Tens of
-- times smaller than usage_minute at scale, and stored in quota order (provider, model, region,
-- scope, minute) so a query for one quota reads only that quota's blocks.
with minutes as (

    select * from usage_minute

),

final as (

    select
        minute_at,
        source,
        provider,
        region,
        model,
        pricing_scope,
        sum(requests) as requests,
        sum(throttled_requests) as throttled_requests,
        sum(error_requests) as error_requests,
        sum(quota_tokens) as quota_tokens,
        -- LiteLLM limits count every token (input + cache read + cache writes + output)
        sum(cast(input_tokens as hugeint) + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens
            + output_tokens) as total_tokens
    from minutes
    group by all

)

select * from final
order by provider, model, region, pricing_scope, minute_at
