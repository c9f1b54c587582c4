-- grain: one row per request (event_id), every source: identity resolved, priced, de-duplicated.
-- Columns: the data contract's (ARCHITECTURE.md) in order, then unpriced, pricing_tier, project,
-- identity_status, billable and further extras (token_detail, gateway_name last).
with staged as not materialized (

    -- read where it is used (three places), not copied first: the events are a table
    select * from int_events

),

provider_twins as (

    -- a gateway record that cannot split its tokens (token_detail 'partial') whose provider
    -- copy was read too: counted once from the gateway (its identity), priced from the
    -- provider's exact record
    select m.gateway_event_id, p.*
    from gateway_matches as m
    inner join staged as p on p.event_id = m.event_id

),

events as (

    select
        e.event_id,
        e.source,
        e.provider,
        e.request_id,
        e.occurred_at,
        e.principal,
        e.person_hint,
        e.team_hint,
        e.project,
        e.model_id,
        coalesce(t.model, e.model) as model,
        coalesce(t.region, e.region) as region,
        coalesce(t.pricing_scope, e.pricing_scope) as pricing_scope,
        coalesce(t.input_tokens, e.input_tokens) as input_tokens,
        coalesce(t.output_tokens, e.output_tokens) as output_tokens,
        coalesce(t.cache_read_tokens, e.cache_read_tokens) as cache_read_tokens,
        coalesce(t.cache_write_5m_tokens, e.cache_write_5m_tokens) as cache_write_5m_tokens,
        coalesce(t.cache_write_1h_tokens, e.cache_write_1h_tokens) as cache_write_1h_tokens,
        e.is_batch,
        e.reported_cost_usd,
        e.status,
        e.error_code,
        e.billable,
        e.gateway_role,
        e.gateway_name,
        e.provider_request_id,
        coalesce(t.token_detail, e.token_detail) as token_detail
    from staged as e
    left join provider_twins as t
        on t.gateway_event_id = e.event_id and e.token_detail = 'partial'

),

identities as (

    select * from identity_map

),

prices as (

    select * from price_book

),

gateway_matches as (

    -- provider-side copies of requests already counted from a gateway (LiteLLM) log
    select distinct event_id from gateway_matches

),

telemetry_matches as (

    -- Claude Code telemetry (marts/claude_code_attribution.sql): a provider record matched to
    -- exactly one telemetry event takes its developer when its own identity names no one
    select * from claude_code_attribution

),

covered_error_days as (

    -- a model and UTC day with provider or gateway records, for the days holding a Claude Code
    -- api_error event: there the failed request is the provider's (or gateway's) record too,
    -- so the telemetry's error is not a request of its own (as claude_code_attribution rules
    -- for an api_request)
    select distinct p.model, cast(p.occurred_at as date) as day
    from staged as p
    where p.source <> 'claude_code'
      and cast(p.occurred_at as date) in (
          select cast(occurred_at as date) from staged
          where source = 'claude_code' and not billable
      )

),

sized as (

    select
        *,
        input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens
            as prompt_tokens
    from events

),

priced as (

    -- The long-context entry applies when the request's prompt (input + cache read + cache
    -- write) exceeds its threshold; then every token of the request is billed at its rates.
    select
        s.*,
        lc.price_version is not null as is_long_context,
        case when lc.price_version is not null then lc.price_version else st.price_version end
            as price_version,
        case when lc.price_version is not null then lc.input_usd_per_mtok
             else st.input_usd_per_mtok end as input_usd_per_mtok,
        case when lc.price_version is not null then lc.output_usd_per_mtok
             else st.output_usd_per_mtok end as output_usd_per_mtok,
        case when lc.price_version is not null then lc.cache_read_usd_per_mtok
             else st.cache_read_usd_per_mtok end as cache_read_usd_per_mtok,
        case when lc.price_version is not null then lc.cache_write_5m_usd_per_mtok
             else st.cache_write_5m_usd_per_mtok end as cache_write_5m_usd_per_mtok,
        case when lc.price_version is not null then lc.cache_write_1h_usd_per_mtok
             else st.cache_write_1h_usd_per_mtok end as cache_write_1h_usd_per_mtok
    from sized as s
    left join prices as lc
        on lc.provider = s.provider
        and lc.model = s.model
        and lc.pricing_scope = s.pricing_scope
        and lc.is_batch = s.is_batch
        and lc.pricing_tier = 'long_context'
        and s.prompt_tokens > lc.context_threshold_tokens
        and s.occurred_at >= lc.valid_from
        and (lc.valid_to is null or s.occurred_at < lc.valid_to)
    left join prices as st
        on st.provider = s.provider
        and st.model = s.model
        and st.pricing_scope = s.pricing_scope
        and st.is_batch = s.is_batch
        and st.pricing_tier = 'standard'
        and s.occurred_at >= st.valid_from
        and (st.valid_to is null or s.occurred_at < st.valid_to)

),

costed as (

    select
        *,
        case
            when not billable then cast(0 as decimal(38, 12))
            when price_version is null then null
            else cost_of(input_tokens, input_usd_per_mtok)
                + cost_of(output_tokens, output_usd_per_mtok)
                + cost_of(cache_read_tokens, cache_read_usd_per_mtok)
                + cost_of(cache_write_5m_tokens, cache_write_5m_usd_per_mtok)
                + cost_of(cache_write_1h_tokens, cache_write_1h_usd_per_mtok)
        end as cost_usd,
        -- what the same request would cost with every prompt token billed as uncached input
        case
            when not billable then cast(0 as decimal(38, 12))
            when price_version is null then null
            else cost_of(prompt_tokens, input_usd_per_mtok)
                + cost_of(output_tokens, output_usd_per_mtok)
        end as uncached_cost_usd
    from priced

),

attributed as (

    -- whether a provider record takes its developer from the telemetry event matched to it:
    -- only when its own identity names no one (a shared role, a service account)
    select
        c.*,
        a.provider_event_id is not null
            and a.developer <> 'unattributed'
            and coalesce(i.identity_status, 'unattributed') in ('unattributed', 'service')
            as by_telemetry
    from costed as c
    left join identities as i
        on i.source = c.source
        and i.principal is not distinct from c.principal
        and i.person_hint is not distinct from c.person_hint
        and i.team_hint is not distinct from c.team_hint
    left join telemetry_matches as a on a.provider_event_id = c.event_id

),

final as (

    select
        c.event_id,
        c.source,
        c.provider,
        c.request_id,
        c.occurred_at,
        case when c.by_telemetry then a.developer
             else coalesce(i.developer, 'unattributed') end as developer,
        case when c.by_telemetry then a.team else coalesce(i.team, 'unattributed') end as team,
        case when c.by_telemetry then a.cost_center
             else coalesce(i.cost_center, 'unattributed') end as cost_center,
        c.principal,
        c.model,
        c.model_id,
        c.region,
        c.pricing_scope,
        c.input_tokens,
        c.output_tokens,
        c.cache_read_tokens,
        c.cache_write_5m_tokens,
        c.cache_write_1h_tokens,
        cast(c.cost_usd as decimal(38, 12)) as cost_usd,
        cast(c.reported_cost_usd as decimal(38, 12)) as reported_cost_usd,
        case when c.billable then c.price_version else 'non_billable' end as price_version,
        c.status,
        c.error_code,
        -- a telemetry event never adds spend beside a provider log (claude_code_attribution)
        g.event_id is null and coalesce(t.counts_spend, ce.model is null) as counted,
        c.billable and c.cost_usd is null as unpriced,
        case when c.is_long_context then 'long_context' else 'standard' end as pricing_tier,
        c.project,
        case when c.by_telemetry then 'telemetry'
             else coalesce(i.identity_status, 'unattributed') end as identity_status,
        c.billable,
        c.is_batch,
        c.gateway_role,
        c.person_hint,
        c.team_hint,
        cast(c.uncached_cost_usd as decimal(38, 12)) as uncached_cost_usd,
        c.token_detail,
        c.gateway_name
    from attributed as c
    left join identities as i
        on i.source = c.source
        and i.principal is not distinct from c.principal
        and i.person_hint is not distinct from c.person_hint
        and i.team_hint is not distinct from c.team_hint
    left join gateway_matches as g on g.event_id = c.event_id
    left join telemetry_matches as a on a.provider_event_id = c.event_id
    left join telemetry_matches as t on t.telemetry_event_id = c.event_id
    left join covered_error_days as ce
        on c.source = 'claude_code' and not c.billable
        and ce.model = c.model and ce.day = cast(c.occurred_at as date)

)

select * from final
