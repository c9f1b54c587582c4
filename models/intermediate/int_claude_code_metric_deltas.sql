-- grain: one row per Claude Code metric data point (point_key), its value as a delta.
-- Claude Code exports delta temporality by default; a Collector or OTEL_EXPORTER_OTLP_METRICS_
-- TEMPORALITY_PREFERENCE=cumulative gives running totals. A cumulative series is one metric,
-- attribute set (resource and point) and start time; each point's delta is its value less the
-- previous point's (the first point counts from the start time; a value that falls is a reset
-- and counts whole). Gauges are left out.
with points as (

    select * from raw_claude_code_metrics
    where temporality in ('delta', 'cumulative') and plausible_time(occurred_at)

),

ordered as (

    select
        *,
        lag(value) over series as previous_value,
        lag(occurred_at) over series as previous_at
    from points
    window series as (
        partition by metric_name, temporality, cast(attributes as varchar), start_at
        order by occurred_at, point_key
    )

),

final as (

    select
        point_key,
        metric_name,
        temporality,
        case when temporality = 'cumulative' then coalesce(previous_at, start_at) else start_at end
            as interval_start_at,
        occurred_at,
        case
            when temporality = 'delta' then value
            when previous_value is null or value < previous_value then value
            else value - previous_value
        end as delta_value,
        token_type,
        model,
        session_id,
        user_email,
        user_id,
        team_id,
        cost_center
    from ordered

)

select * from final
