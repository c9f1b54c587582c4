-- grain: one row per Bedrock invocation-log record (request_id), rows of raw_bedrock staged.
with source as (

    select * from raw_bedrock
    -- quarantined (models/checks/quarantined_bedrock.sql): never fails the build
    where plausible_time(occurred_at)
        and plausible_tokens(input_tokens) and plausible_tokens(output_tokens)
        and plausible_tokens(cache_read_tokens) and plausible_tokens(cache_write_tokens)
        and plausible_tokens(cache_write_1h_tokens)

),

model_ids as (

    -- each distinct modelId once (a handful of ids behind millions of rows): resolved through
    -- [bedrock.application_profiles], canonicalised, its pricing scope from the profile prefix
    select
        model_id,
        canonical_model(resolve_model_id(model_id)) as model,
        bedrock_pricing_scope(resolve_model_id(model_id)) as pricing_scope
    from (select distinct model_id from source) as ids

),

principals as (

    select
        principal_arn,
        nullif(regexp_extract(principal_arn, ':assumed-role/([^/]+)/', 1), '') as role_name,
        nullif(regexp_extract(principal_arn, ':assumed-role/[^/]+/(.+)$', 1), '') as session_name,
        nullif(regexp_extract(principal_arn, ':user/(.*/)?([^/]+)$', 2), '') as iam_user_name,
        is_gateway_identity(principal_arn) as gateway_role
    from (select distinct principal_arn from source) as arns

),

people as (

    -- A personal name the ARN carries: the session name of an IAM Identity Center
    -- (AWSReservedSSO_*) role, or a session or IAM user name that is an email. Other session
    -- and IAM user names (ci-runner, bedrock-test, dev-okafor) are tried against the people
    -- directory and the identity rules in identity_map, not named here: an IAM user is as often
    -- a service as a person.
    select
        *,
        case
            when role_name like 'AWSReservedSSO\_%' escape '\' then session_name
            when session_name like '%@%' then session_name
            when iam_user_name like '%@%' then iam_user_name
        end as arn_person
    from principals

),

tags as (

    select
        request_metadata,
        json_tag(request_metadata, identity_setting('request_metadata_developer_key', 'developer'))
            as tagged_developer,
        json_tag(request_metadata, identity_setting('request_metadata_team_key', 'team'))
            as tagged_team,
        json_tag(request_metadata, identity_setting('request_metadata_project_key', 'project'))
            as tagged_project
    from (select distinct request_metadata from source) as metadata

),

final as (

    select
        'bedrock:' || s.request_id as event_id,
        'bedrock' as source,
        'bedrock' as provider,
        s.request_id,
        s.occurred_at,
        s.principal_arn as principal,
        coalesce(p.arn_person, t.tagged_developer) as person_hint,
        t.tagged_team as team_hint,
        t.tagged_project as project,
        s.model_id,
        m.model,
        s.region,
        m.pricing_scope,
        s.input_tokens,
        s.output_tokens,
        s.cache_read_tokens,
        -- Writes count as 5-minute writes unless the record shows the 1-hour share.
        greatest(s.cache_write_tokens - coalesce(s.cache_write_1h_tokens, 0), 0)
            as cache_write_5m_tokens,
        least(coalesce(s.cache_write_1h_tokens, 0), s.cache_write_tokens) as cache_write_1h_tokens,
        false as is_batch,
        cast(null as decimal(38, 12)) as reported_cost_usd,
        case
            when s.error_code is null
                 and (s.status is null or lower(s.status) in ('success', 'succeeded', 'ok', '200'))
                then 'ok'
            when lower(coalesce(s.error_code, '')) like '%throttl%'
                 or lower(coalesce(s.error_code, '')) like '%toomanyrequests%'
                 or s.error_code = '429'
                then 'throttled'
            else 'error'
        end as status,
        s.error_code,
        true as billable,
        coalesce(p.gateway_role, false) as gateway_role,
        cast(null as varchar) as gateway_name,
        cast(null as varchar) as provider_request_id,
        -- Bedrock's own time for the request where the record carries one (streaming Invoke,
        -- Converse); a gateway's hop is its duration less this (marts/gateway_daily.sql)
        cast(s.latency_ms as double) as latency_ms
    from source as s
    inner join model_ids as m on m.model_id = s.model_id
    left join people as p on p.principal_arn is not distinct from s.principal_arn
    left join tags as t
        on cast(t.request_metadata as varchar) is not distinct from cast(s.request_metadata as varchar)

)

select * from final
