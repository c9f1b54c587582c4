-- grain: one row per bill line (bill_line_id) of every loaded bill, its model canonicalised.
with lines as (

    select * from stg_bill_aws
    union all by name
    select * from stg_bill_gcp

),

names as (

    -- each distinct billed model name once: 'Claude4.6Sonnet' (a Bedrock usage type),
    -- 'Claude 3 Haiku (Amazon Bedrock Edition)' (Marketplace), 'anthropic.claude-opus-4-8',
    -- 'Claude Sonnet 4.5' / 'Claude Haiku 4 5' (GCP services) -> claude-<family>-<major>[-<minor>]
    select
        model_name,
        lower(trim(regexp_replace(model_name, '\(.*?\)', '', 'g'))) as name_text
    from (select distinct model_name from lines where model_name is not null)

),

canonical as (

    select
        model_name,
        case
            when regexp_matches(name_text, 'claude-(opus|sonnet|haiku)-[0-9]')
                then canonical_model(
                    regexp_extract(name_text, '(claude-(opus|sonnet|haiku)-[0-9]+(-[0-9]+)?)', 1))
            when name_text like 'claude%' and regexp_matches(name_text, '(opus|sonnet|haiku)')
                then 'claude-' || regexp_extract(name_text, '(opus|sonnet|haiku)', 1) || '-'
                    || array_to_string(
                        regexp_extract_all(regexp_replace(name_text, ' v2$', ''), '[0-9]+'), '-')
                    || case when name_text like '% v2' then '-v2' else '' end
            else canonical_model(name_text)
        end as model
    from names

),

final as (

    select
        l.bill_line_id,
        l.bill_source,
        l.provider,
        l.billing_period,
        coalesce(l.account, 'unknown') as account,
        l.region,
        l.usage_day,
        l.usage_start_at,
        l.line_kind,
        l.usage_label,
        l.model_name,
        c.model,
        l.token_kind,
        l.pricing_scope,
        l.is_batch,
        l.pricing_tier,
        l.pricing_unit,
        l.billed_tokens,
        l.billed_cost_usd,
        l.credit_usd,
        l.discount_usd,
        l.principal,
        l.principal_tags,
        l.resource_id,
        l.operation
    from lines as l
    left join canonical as c on c.model_name = l.model_name

)

select * from final
