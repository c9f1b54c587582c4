-- grain: one row per LiteLLM spend-log row (request_id), rows of raw_litellm_spend staged.
-- prompt_tokens already includes cache read and cache creation for Claude, so uncached input is
-- prompt_tokens - cache read - cache creation. People come from the key's owner, the user's
-- e-mail or the key alias, never from end_user (Claude Code fills it with a per-session blob).
-- Renames and casts only: principal, person_hint and team_hint here come from the row's own
-- metadata; intermediate/int_litellm_events.sql fills in what it lacks from the key, user and
-- team snapshots. After the staged columns: the row's key, user and team ids and the parts of
-- its identity (key_alias, key_user_email, key_team_alias, metadata_team_hint) that model reads.
with source as (

    select * from raw_litellm_spend
    -- quarantined (models/checks/quarantined_litellm.sql): never fails the build
    where plausible_time(start_time)
        and plausible_tokens(prompt_tokens) and plausible_tokens(completion_tokens)
        and plausible_tokens(total_tokens) and plausible_tokens(cache_read_tokens)
        and plausible_tokens(cache_creation_tokens) and plausible_tokens(cache_write_5m_tokens)
        and plausible_tokens(cache_write_1h_tokens)

),

named as (

    select
        *,
        coalesce(model, model_group) as logged_model,
        lower(coalesce(
            nullif(custom_llm_provider, ''),
            nullif(regexp_extract(coalesce(model, ''), '^([a-z0-9_\-]+)/', 1), ''),
            case
                when api_base like '%bedrock-runtime%' or api_base like '%bedrock.%' then 'bedrock'
                when api_base like '%aiplatform.googleapis.com%' then 'vertex_ai'
                when api_base like '%api.anthropic.com%' then 'anthropic'
                when lower(coalesce(model, model_group, '')) like 'claude%' then 'anthropic'
            end,
            'unknown'
        )) as litellm_provider,
        try_cast(request_tags as varchar[]) as tags
    from source

),

models as (

    -- each distinct logged model once (a handful behind millions of rows): the Bedrock id
    -- without LiteLLM's routing prefix (bedrock/, bedrock/converse/, ...), resolved through the
    -- application profiles, and the canonical names and Bedrock scope of it
    select
        logged_model,
        resolved_model_id,
        canonical_model(resolved_model_id) as canonical_resolved,
        canonical_model(logged_model) as canonical_logged,
        bedrock_pricing_scope(resolved_model_id) as bedrock_scope
    from (
        select
            logged_model,
            resolve_model_id(regexp_replace(
                logged_model, '^(bedrock|bedrock_converse)/((converse|invoke)/)?', ''
            )) as resolved_model_id
        from (select distinct logged_model from named) as ids
    ) as resolved

),

classified as (

    select
        n.*,
        m.resolved_model_id,
        m.canonical_resolved,
        m.canonical_logged,
        m.bedrock_scope,
        case
            when litellm_provider in ('bedrock', 'bedrock_converse') then 'bedrock'
            when litellm_provider like 'vertex_ai%' then 'vertex'
            else litellm_provider
        end as provider,
        -- the team the request's own metadata or tags name
        coalesce(
            json_tag(spend_logs_metadata, identity_setting('request_metadata_team_key', 'team')),
            nullif(substr(list_filter(tags, lambda t: t like 'team:%')[1], 6), '')
        ) as metadata_team_hint,
        case
            when api_base like '%bedrock-runtime%'
                then nullif(regexp_extract(api_base, 'bedrock-runtime[.-]([a-z0-9-]+)\.', 1), '')
            when api_base like '%aiplatform.googleapis.com%'
                then coalesce(
                    nullif(regexp_extract(api_base, '/locations/([a-z0-9-]+)', 1), ''),
                    nullif(regexp_extract(api_base, '//([a-z0-9-]+)-aiplatform\.', 1), ''),
                    'global')
        end as api_region,
        coalesce(cache_read_tokens, 0) as read_tokens,
        coalesce(
            cache_creation_tokens,
            case when cache_write_5m_tokens is not null or cache_write_1h_tokens is not null
                 then coalesce(cache_write_5m_tokens, 0) + coalesce(cache_write_1h_tokens, 0) end,
            0
        ) as creation_tokens
    from named as n
    left join models as m on m.logged_model is not distinct from n.logged_model

),

final as (

    select
        'litellm:' || request_id as event_id,
        'litellm' as source,
        provider,
        request_id,
        start_time as occurred_at,
        coalesce(key_alias, user_id, api_key) as principal,
        coalesce(
            key_user_email,
            case when user_id like '%@%' then user_id end,
            case when key_alias not in ('litellm_proxy_master_key',
                                        'litellm-internal-health-check')
                 then key_alias end
        ) as person_hint,
        coalesce(key_team_alias, metadata_team_hint) as team_hint,
        coalesce(
            json_tag(spend_logs_metadata,
                     identity_setting('request_metadata_project_key', 'project')),
            nullif(substr(list_filter(tags, lambda t: t like 'project:%')[1], 9), ''),
            key_project_alias
        ) as project,
        logged_model as model_id,
        case when provider = 'bedrock' then canonical_resolved else canonical_logged end
            as model,
        api_region as region,
        case
            when provider = 'bedrock' then bedrock_scope
            when provider = 'vertex' then vertex_pricing_scope(api_region)
            else 'global'
        end as pricing_scope,
        -- a provider that reported the prompt without its cache share is taken as it is
        case when prompt_tokens >= read_tokens + creation_tokens
             then prompt_tokens - read_tokens - creation_tokens
             else prompt_tokens end as input_tokens,
        completion_tokens as output_tokens,
        read_tokens as cache_read_tokens,
        -- writes count as 5-minute writes unless the usage object shows the 1-hour share
        creation_tokens - least(coalesce(cache_write_1h_tokens, 0), creation_tokens)
            as cache_write_5m_tokens,
        least(coalesce(cache_write_1h_tokens, 0), creation_tokens) as cache_write_1h_tokens,
        coalesce(call_type ilike '%batch%', false) as is_batch,
        cast(spend as decimal(38, 12)) as reported_cost_usd,
        case
            when coalesce(lower(status), 'success') = 'success' and error_code is null
                 and error_class is null
                then 'ok'
            when error_code = '429'
                 or rate_limit_category in ('litellm_rate_limit', 'vendor_rate_limit')
                 or error_class in ('RateLimitError', 'ProxyRateLimitError')
                then 'throttled'
            else 'error'
        end as status,
        -- LiteLLM's own limits (rate, budget) stay apart from the provider's throttling
        case
            when rate_limit_type = 'budget' or error_class ilike '%budgetexceeded%'
                then coalesce(error_code, '400') || ':litellm_budget'
            when rate_limit_category = 'litellm_rate_limit' or error_class = 'ProxyRateLimitError'
                then coalesce(error_code, '429') || ':litellm_rate_limit'
                    || coalesce(':' || rate_limit_type, '')
            when rate_limit_category = 'vendor_rate_limit' or error_class = 'RateLimitError'
                then coalesce(error_code, '429') || ':provider_rate_limit'
            else coalesce(error_code, error_class)
        end as error_code,
        -- a LiteLLM response-cache hit never reached a provider; count_tokens is free
        not coalesce(call_type ilike '%count_tokens%' or lower(cache_hit) = 'true', false)
            as billable,
        false as gateway_role,
        -- a gateway's own record: a provider's log of the same request, under the gateway's
        -- identity, is the copy not counted (marts/gateway_matches.sql)
        'litellm' as gateway_name,
        -- the provider's id for the request, where LiteLLM kept it (else its own request_id
        -- may be the provider's response id)
        provider_request_id,
        -- the proxy's whole time for the request (endTime - startTime), provider call included;
        -- what the hop adds is this less the provider's own time, where a matched provider
        -- record logs one (marts/gateway_daily.sql)
        case when end_time >= start_time
             then cast(epoch_ms(end_time) - epoch_ms(start_time) as double) end as latency_ms,
        api_key,
        key_alias,
        key_user_id,
        key_user_email,
        key_team_id,
        key_team_alias,
        user_id,
        team_id,
        metadata_team_hint
    from classified

)

select * from final
