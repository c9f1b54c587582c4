-- grain: one row per usage day x provider x account/project x model x token kind of every
-- month a bill is loaded for: our tokens and list-price cost (counted events) beside the billed
-- tokens and cost, the difference, and the reason where one is clear. Our side is the provider's
-- own logs (bedrock, vertex), counted or not: the bill charges every request the provider served.
with bill as (

    select
        usage_day as day,
        provider,
        account,
        coalesce(model, model_name) as model,
        token_kind,
        sum(billed_tokens) as billed_tokens,
        -- what was invoiced for the usage: usage lines plus their discounts; credits apart
        sum(billed_cost_usd + discount_usd) as billed_cost_usd,
        sum(credit_usd) as credits_usd,
        sum(discount_usd) as discounts_usd
    from int_bill_lines
    where token_kind <> 'other' and line_kind in ('usage', 'discount', 'credit')
    group by all

),

months as (

    -- the provider months a bill covers: our side is compared there only
    select distinct provider, date_trunc('month', day) as month from bill

),

prices as (

    select * from price_book

),

projects as (

    select event_id, any_value(project_id) as project_id
    from stg_vertex
    where project_id is not null
    group by event_id

),

events as (

    select
        cast(e.occurred_at as date) as day,
        e.provider,
        coalesce(
            case
                when e.provider = 'bedrock'
                    then nullif(regexp_extract(e.principal, '^arn:aws[a-z-]*:(sts|iam)::([0-9]{12}):', 2), '')
                else p.project_id
            end,
            'unknown'
        ) as account,
        e.model,
        e.input_tokens,
        e.output_tokens,
        e.cache_read_tokens,
        e.cache_write_5m_tokens,
        e.cache_write_1h_tokens,
        b.input_usd_per_mtok,
        b.output_usd_per_mtok,
        b.cache_read_usd_per_mtok,
        b.cache_write_5m_usd_per_mtok,
        b.cache_write_1h_usd_per_mtok,
        b.price_version is not null as priced
    from usage_events as e
    inner join months as m
        on m.provider = e.provider and m.month = date_trunc('month', cast(e.occurred_at as date))
    left join prices as b on b.price_version = e.price_version
    left join projects as p on p.event_id = e.event_id
    -- the provider's own logs: every request it logged and billed, whichever copy of a request
    -- a gateway's log makes the counted one
    where e.source = e.provider and e.billable

),

by_kind as (

    select day, provider, account, model, 'input' as token_kind, input_tokens as tokens,
        input_usd_per_mtok as rate, priced from events
    union all
    select day, provider, account, model, 'output', output_tokens, output_usd_per_mtok, priced
    from events
    union all
    select day, provider, account, model, 'cache_read', cache_read_tokens,
        cache_read_usd_per_mtok, priced from events
    union all
    select day, provider, account, model, 'cache_write_5m', cache_write_5m_tokens,
        cache_write_5m_usd_per_mtok, priced from events
    union all
    select day, provider, account, model, 'cache_write_1h', cache_write_1h_tokens,
        cache_write_1h_usd_per_mtok, priced from events

),

ours as (

    select
        day,
        provider,
        account,
        model,
        token_kind,
        sum(tokens) as our_tokens,
        -- unpriced tokens make the estimate unknown (NULL), never $0
        case
            when bool_or(coalesce(tokens, 0) > 0 and (not priced or rate is null)) then null
            else sum(cost_of(tokens, rate))
        end as our_cost_usd
    from by_kind
    where coalesce(tokens, 0) > 0
    group by all

),

priced_models as (

    select distinct provider, model from prices

),

joined as (

    select
        coalesce(o.day, b.day) as day,
        coalesce(o.provider, b.provider) as provider,
        coalesce(o.account, b.account) as account,
        coalesce(o.model, b.model) as model,
        coalesce(o.token_kind, b.token_kind) as token_kind,
        cast(coalesce(o.our_tokens, 0) as bigint) as our_tokens,
        cast(coalesce(b.billed_tokens, 0) as bigint) as billed_tokens,
        case when o.day is null then cast(0 as decimal(38, 12))
             else cast(o.our_cost_usd as decimal(38, 12)) end as our_cost_usd,
        cast(coalesce(b.billed_cost_usd, 0) as decimal(38, 12)) as billed_cost_usd,
        cast(coalesce(b.credits_usd, 0) as decimal(38, 12)) as credits_usd,
        cast(coalesce(b.discounts_usd, 0) as decimal(38, 12)) as discounts_usd
    from ours as o
    full outer join bill as b
        on b.day = o.day
        and b.provider = o.provider
        and b.account = o.account
        and b.model = o.model
        and b.token_kind = o.token_kind

),

measured as (

    select
        j.*,
        date_trunc('month', j.day) as month,
        cast(j.billed_cost_usd - j.our_cost_usd as decimal(38, 12)) as difference_usd,
        case
            when j.our_cost_usd > 0
                then cast(round(cast(j.billed_cost_usd - j.our_cost_usd as double)
                    / cast(j.our_cost_usd as double) * 100, 4) as decimal(18, 4))
        end as difference_pct,
        j.our_tokens > 0 and j.billed_tokens > 0
            and abs(j.billed_tokens - j.our_tokens) <= greatest(j.our_tokens, j.billed_tokens) * 0.01
            as tokens_match,
        pm.model is not null as model_priced
    from joined as j
    left join priced_models as pm on pm.provider = j.provider and pm.model = j.model

),

discounts as (

    -- a contracted discount: where tokens match, billed = list x (1 - d) with one d across the
    -- provider's account for the month (at least two rows, spread under half a point)
    select
        provider,
        account,
        month,
        cast(round(avg(1 - cast(billed_cost_usd as double) / cast(our_cost_usd as double)) * 100, 2)
            as decimal(9, 2))
            as discount_pct
    from measured
    where tokens_match and our_cost_usd > 0 and billed_cost_usd > 0
    group by all
    having count(*) >= 2
        and max(1 - cast(billed_cost_usd as double) / cast(our_cost_usd as double))
            - min(1 - cast(billed_cost_usd as double) / cast(our_cost_usd as double)) <= 0.005
        and avg(1 - cast(billed_cost_usd as double) / cast(our_cost_usd as double)) >= 0.01

),

final as (

    select
        m.day,
        m.provider,
        m.account,
        m.model,
        m.token_kind,
        m.our_tokens,
        m.billed_tokens,
        m.billed_tokens - m.our_tokens as difference_tokens,
        m.our_cost_usd,
        m.billed_cost_usd,
        m.difference_usd,
        m.difference_pct,
        m.credits_usd,
        m.discounts_usd,
        case
            when m.billed_tokens > 0 and m.our_tokens = 0 then 'logs_missing'
            when not m.model_priced or m.our_cost_usd is null then 'unpriced_model'
            when m.tokens_match and abs(m.difference_usd) <= 0.01 then null
            when m.tokens_match and abs(coalesce(m.difference_pct, 0)) <= 0.5 then null
            when m.tokens_match and d.discount_pct is not null then 'contracted_discount'
            when m.tokens_match then 'price_book_wrong'
            when m.billed_tokens = 0 and m.our_tokens > 0 then 'not_billed'
            else 'tokens_differ'
        end as reason,
        d.discount_pct,
        case
            when m.tokens_match and d.discount_pct is not null
                and abs(m.difference_usd) > 0.01
                then '[[prices.overrides]]' || chr(10)
                    || 'provider = "' || m.provider || '"' || chr(10)
                    || 'model = "' || m.model || '"' || chr(10)
                    || 'discount_pct = ' || rtrim(rtrim(cast(d.discount_pct as varchar), '0'), '.') || chr(10)
                    || 'valid_from = "' || strftime(m.month, '%Y-%m-%d') || '"'
        end as suggested_override
    from measured as m
    left join discounts as d
        on d.provider = m.provider and d.account = m.account and d.month = m.month

)

select * from final
