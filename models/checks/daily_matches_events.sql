-- grain: one row per (requests, cost) total on which usage_daily and usage_events disagree
with events as (

    select count(*) as requests, coalesce(sum(cost_usd), 0) as cost_usd from usage_events

),

daily as (

    select coalesce(sum(requests), 0) as requests, coalesce(sum(cost_usd), 0) as cost_usd
    from usage_daily

),

final as (

    select e.requests as event_requests, d.requests as daily_requests,
           e.cost_usd as event_cost_usd, d.cost_usd as daily_cost_usd
    from events as e, daily as d
    where e.requests <> d.requests or e.cost_usd <> d.cost_usd

)

select * from final
