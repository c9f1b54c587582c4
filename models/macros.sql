-- grain: none; SQL macros every model uses. Created first, after the reference tables exist.

-- The canonical model name, claude-<family>-<major>[-<minor>], from every form a source logs:
-- anthropic.claude-sonnet-4-5-20250929-v1:0, us./eu./apac./jp./au./global. profiles,
-- arn:aws:bedrock:...:inference-profile/<profile id>, claude-sonnet-4-5@20250929,
-- projects/P/locations/L/publishers/anthropic/models/<id>:streamRawPredict, vertex_ai/<id>,
-- bedrock/<id>, anthropic/<id>, claude-sonnet-4-5-20250929, claude-3-7-sonnet-20250219 and
-- Claude Code's [1m] suffix. An application-inference-profile ARN that config does not map is
-- kept whole (lower-cased), so it shows up as an unpriced model naming the ARN to map.
create or replace macro canonical_model(model_id) as (
    case
        when model_id is null then null
        when lower(model_id) like '%:application-inference-profile/%' then lower(trim(model_id))
        else regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
             regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
             regexp_replace(
                lower(trim(model_id)),
                '^.*/', ''),                                          -- last path segment
                ':(stream)?(raw)?predict$|:streamgeneratecontent$|:generatecontent$', ''),
                '^(us|eu|apac|jp|au|ca|us-gov|global)\.', ''),        -- inference profile
                '^anthropic\.', ''),
                '\[1m\]$', ''),                                       -- Claude Code 1M flag
                '@.*$', ''),                                          -- Vertex @snapshot
                '-v\d+(:\d+)?$', ''),                                 -- Bedrock -v1:0
                '-(\d{8}|latest)$', ''),                              -- snapshot date
                '^claude-(\d+)-(\d+)-(opus|sonnet|haiku)(-v\d+)?$', 'claude-\3-\1-\2'),
                '^claude-(\d+)-(opus|sonnet|haiku)$', 'claude-\2-\1'), -- legacy word order
                '^(claude-(opus|sonnet|haiku)-\d+)-0$', '\1')          -- alias claude-opus-4-0
    end
);

-- An application inference profile (or any id) mapped through [bedrock.application_profiles]:
-- the configured key is the full ARN or its trailing profile id.
create or replace macro resolve_model_id(logged_model_id) as (
    coalesce(
        (select any_value(a.target_model_id order by length(a.model_id) desc)
         from ref_model_aliases a
         where a.model_id = logged_model_id
            or lower(logged_model_id)
               like '%:application-inference-profile/' || lower(a.model_id)),
        logged_model_id
    )
);

-- Bedrock pricing scope from the (resolved) model id: global. profiles at list price,
-- geographic profiles and in-Region ids carry the regional premium (for Sonnet 4.5 and later).
create or replace macro bedrock_pricing_scope(model_id) as (
    case
        when regexp_matches(lower(model_id), '(^|/)global\.') then 'global'
        when regexp_matches(lower(model_id), '(^|/)(us|eu|apac|jp|au|ca|us-gov)\.') then 'geo'
        else 'in_region'
    end
);

-- Vertex pricing scope from the endpoint location: the global endpoint vs any regional one.
create or replace macro vertex_pricing_scope(location) as (
    case when lower(coalesce(location, '')) = 'global' then 'global' else 'regional' end
);

-- Cost of some tokens at a price per million tokens, exact (never divide money).
-- Zero tokens cost 0 even where the price is unknown; NULL price with tokens gives NULL.
create or replace macro cost_of(tokens, usd_per_mtok) as (
    case
        when coalesce(tokens, 0) = 0 then cast(0 as decimal(38, 12))
        else cast(cast(tokens as decimal(38, 0)) * usd_per_mtok * cast(0.000001 as decimal(7, 6))
                  as decimal(38, 12))
    end
);

-- Bedrock quota burndown: output tokens count 5x against TPM for Claude 3.7 and the 4.x family.
create or replace macro burndown_rate(provider, model) as (
    case
        when provider = 'bedrock'
             and regexp_matches(coalesce(model, ''), '^claude-(opus|sonnet|haiku)-([4-9]|3-7)')
            then 5
        else 1
    end
);

-- A value from [identity] in the config (loaded into ref_identity_settings), else a default.
create or replace macro identity_setting(setting_key, default_value) as (
    coalesce(
        (select any_value(s.value) from ref_identity_settings s where s.key = setting_key),
        default_value
    )
);

-- A request-metadata / label value by key from a JSON object, NULL when absent or blank.
create or replace macro json_tag(doc, tag_key) as (
    nullif(trim(json_extract_string(doc, '$."' || replace(tag_key, '"', '') || '"')), '')
);

-- True when the principal is a configured gateway identity (a regex searched in the principal).
create or replace macro is_gateway_identity(principal) as (
    coalesce(
        (select bool_or(regexp_matches(principal, g.pattern)) from ref_gateway_identities g),
        false
    )
);
