-- grain: one row per GCP Cloud Billing export line of a Claude service (raw_gcp_billing, line_id).
-- Bills are not requests: this view feeds int_bill_lines, never the events union.
with source as (

    select
        *,
        -- '{model} — {token kind} — {global|region} — Context Window Size from {lo} to {hi} Tokens'
        string_split(sku_description, ' — ') as sku_parts,
        lower(sku_description) as sku_text
    from raw_gcp_billing

),

final as (

    select
        'gcp-billing:' || line_id as bill_line_id,
        'gcp-billing' as bill_source,
        'vertex' as provider,
        strftime(usage_start_at, '%Y-%m') as billing_period,
        project_id as account,
        coalesce(
            location_region,
            case when len(sku_parts) >= 3 then lower(trim(sku_parts[3])) end
        ) as region,
        cast(usage_start_at as date) as usage_day,
        usage_start_at,
        'usage' as line_kind,
        sku_description as usage_label,
        service_description as model_name,
        case
            when sku_text like '%web search%' then 'other'
            when regexp_matches(sku_text, 'cache.?read') then 'cache_read'
            when regexp_matches(sku_text, 'cache.?write') then
                case when regexp_matches(sku_text, 'ttl 3600|1-hour|\b1h\b') then 'cache_write_1h'
                     else 'cache_write_5m' end
            when sku_text like '%output%' then 'output'
            when sku_text like '%input%' then 'input'
            else 'other'
        end as token_kind,
        case
            when len(sku_parts) >= 3 and lower(trim(sku_parts[3])) = 'global' then 'global'
            when len(sku_parts) >= 3 then 'regional'
            when lower(coalesce(location_region, '')) = 'global' then 'global'
            else 'regional'
        end as pricing_scope,
        sku_text like '%batch%' as is_batch,
        case
            when coalesce(try_cast(regexp_extract(sku_text, 'context window size from ([0-9]+)', 1)
                as bigint), 0) > 0 then 'long_context'
            else 'standard'
        end as pricing_tier,
        usage_pricing_unit as pricing_unit,
        cast(round(coalesce(usage_amount, 0)) as bigint) as billed_tokens,
        cast(cost as decimal(38, 12)) as billed_cost_usd,
        cast(coalesce(credits, 0) as decimal(38, 12)) as credit_usd,
        cast(0 as decimal(38, 12)) as discount_usd,
        cast(null as varchar) as principal,
        cast(null as json) as principal_tags,
        cast(null as varchar) as resource_id,
        cast(null as varchar) as operation
    from source

)

select * from final
