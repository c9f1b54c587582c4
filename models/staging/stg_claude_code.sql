-- grain: one row per Claude Code telemetry event (api_request or api_error), raw_claude_code staged.
-- The client's view of a request: who sent it (user.email, else the resource attribute named by
-- [identity] otel_developer_attribute, else user.id through the people directory's aliases),
-- the tokens, and its own cost estimate as reported_cost_usd. The provider log prices it:
-- marts/claude_code_attribution.sql pairs each event with the provider record of the same
-- request, and usage_events counts such an event as counted = false.
with source as (

    select * from raw_claude_code
    where plausible_time(occurred_at)
        and plausible_tokens(input_tokens) and plausible_tokens(output_tokens)
        and plausible_tokens(cache_read_tokens) and plausible_tokens(cache_creation_tokens)

),

guessed as (

    -- the model as sent: a Bedrock profile id, a Vertex name@date or an Anthropic id; each
    -- distinct model once (a handful behind millions of events)
    select
        model,
        case
            when regexp_matches(lower(model), '(^|[/.])anthropic\.claude|^arn:aws:bedrock')
                then 'bedrock'
            when contains(model, '@') then 'vertex'
            else 'anthropic'
        end as provider_guess
    from (select distinct model from source) as ids

),

models as (

    -- resolved through the application profiles and priced by scope, once per model
    select
        model,
        provider_guess,
        canonical_model(resolve_model_id(model)) as canonical_model,
        case provider_guess
            when 'bedrock' then bedrock_pricing_scope(resolve_model_id(model))
            when 'anthropic' then 'global'
        end as pricing_scope
    from guessed

),

renamed as (

    select
        s.*,
        m.provider_guess,
        m.canonical_model,
        m.pricing_scope,
        case when identity_setting('otel_developer_attribute', '') <> ''
            then json_tag(s.attributes, identity_setting('otel_developer_attribute', ''))
        end as developer_attribute
    from source as s
    left join models as m on m.model is not distinct from s.model

),

final as (

    select
        'claude_code:' || event_key as event_id,
        'claude_code' as source,
        provider_guess as provider,
        request_id,
        occurred_at,
        -- user.id (random per install) as the principal: the people directory's aliases map it
        coalesce(user_id, user_account_uuid) as principal,
        coalesce(user_email, developer_attribute) as person_hint,
        team_id as team_hint,
        cast(null as varchar) as project,
        model as model_id,
        canonical_model as model,
        cast(null as varchar) as region,
        pricing_scope,
        coalesce(input_tokens, 0) as input_tokens,
        coalesce(output_tokens, 0) as output_tokens,
        coalesce(cache_read_tokens, 0) as cache_read_tokens,
        -- the client reports one cache-creation count: 5-minute writes unless told otherwise
        coalesce(cache_creation_tokens, 0) as cache_write_5m_tokens,
        cast(0 as bigint) as cache_write_1h_tokens,
        false as is_batch,
        cast(cost_usd as decimal(38, 12)) as reported_cost_usd,
        case
            when event_name = 'api_request' then 'ok'
            when status_code = '429' then 'throttled'
            else 'error'
        end as status,
        case when event_name = 'api_error' then coalesce(status_code, 'api_error') end
            as error_code,
        event_name = 'api_request' as billable,
        false as gateway_role,
        cast(null as varchar) as gateway_name,
        cast(null as varchar) as provider_request_id,
        event_name,
        session_id,
        prompt_id,
        duration_ms,
        query_source,
        user_email,
        user_id,
        user_account_uuid,
        organization_id,
        cost_center as cost_center_attribute
    from renamed

)

select * from final
