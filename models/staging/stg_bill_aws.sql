-- grain: one row per AWS CUR 2.0 LLM line of each billing period's latest delivery (raw_aws_cur).
-- Bills are not requests: this view feeds int_bill_lines, never the events union.
with deliveries as (

    -- a re-delivered month replaces the earlier delivery: only the latest one is staged (a
    -- delivery is recorded even when it has no LLM line, so it still replaces the earlier one)
    select billing_period, delivery_id
    from raw_aws_cur_deliveries
    qualify row_number() over (
        partition by billing_period order by delivered_at desc, loaded_at desc, delivery_id desc
    ) = 1

),

source as (

    select r.*
    from raw_aws_cur as r
    inner join deliveries as d using (billing_period, delivery_id)

),

typed as (

    select
        *,
        lower(usage_type) as usage_text,
        bill_billing_entity = 'AWS Marketplace' as is_marketplace,
        case
            when line_item_type in ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage')
                then 'usage'
            when line_item_type in ('Credit', 'Refund') then 'credit'
            when line_item_type ilike '%discount%' then 'discount'
            when line_item_type = 'Tax' then 'tax'
            else 'other'
        end as line_kind
    from source

),

final as (

    select
        'aws-cur:' || billing_period || ':' || delivery_id || ':' || file_key || ':'
            || row_number as bill_line_id,
        'aws-cur' as bill_source,
        'bedrock' as provider,
        billing_period,
        usage_account_id as account,
        region_code as region,
        cast(usage_start_at as date) as usage_day,
        usage_start_at,
        line_kind,
        usage_type as usage_label,
        -- the model as the bill names it: Marketplace's product name, the usage type's
        -- Claude<version><family> or anthropic.<model id>, else the usage type's middle part
        coalesce(
            case when is_marketplace then product_name end,
            nullif(regexp_extract(usage_type, '(anthropic\.claude-[a-z]+-[0-9]+(-[0-9]+)?)', 1), ''),
            nullif(regexp_extract(usage_type, '([Cc]laude[0-9.]*(Opus|Sonnet|Haiku))', 1), ''),
            regexp_replace(
                regexp_replace(usage_type, '^[A-Z0-9]+-', ''),
                '-(input|output|cache|batch).*$', '', 'i')
        ) as model_name,
        case
            when regexp_matches(usage_text, 'cache.?read') then 'cache_read'
            when regexp_matches(usage_text, 'cache.?write') then
                case
                    when regexp_matches(usage_text, 'cache.?write.?1h|[-_]1h([-_]|$)|1-hour')
                        then 'cache_write_1h'
                    else 'cache_write_5m'
                end
            when usage_text like '%output%' then 'output'
            when usage_text like '%input%' then 'input'
            else 'other'
        end as token_kind,
        case
            when usage_text like '%global%' then 'global'
            when regexp_matches(usage_text, 'cross.?region') then 'geo'
            else 'in_region'
        end as pricing_scope,
        usage_text like '%batch%' as is_batch,
        case
            when regexp_matches(usage_text, 'long.?context|lctx') then 'long_context'
            else 'standard'
        end as pricing_tier,
        pricing_unit,
        case
            when line_kind <> 'usage' then cast(0 as bigint)
            when lower(pricing_unit) in ('1k tokens', 'k tokens', '1000 tokens')
                then cast(round(usage_amount * 1000) as bigint)
            when lower(pricing_unit) in ('1m tokens', 'm tokens', 'units', 'unit')
                then cast(round(usage_amount * 1000000) as bigint)
            else cast(round(usage_amount) as bigint)
        end as billed_tokens,
        cast(case when line_kind = 'usage' then unblended_cost_usd else 0 end
            as decimal(38, 12)) as billed_cost_usd,
        cast(case when line_kind = 'credit' then unblended_cost_usd else 0 end
            as decimal(38, 12)) as credit_usd,
        cast(case
            when line_kind = 'discount' then unblended_cost_usd
            when line_kind = 'usage'
                then coalesce(net_unblended_cost_usd - unblended_cost_usd, 0)
            else 0
        end as decimal(38, 12)) as discount_usd,
        iam_principal as principal,
        principal_tags,
        resource_id,
        operation
    from typed

)

select * from final
