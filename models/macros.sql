-- grain: none; SQL macros every model uses. Created first, after the reference tables exist.

-- A logged model id without its wrapping: ARN / LiteLLM / Vertex path segments, :predict
-- suffixes, inference-profile prefixes (us./eu./apac./jp./au./ca./us-gov./global.),
-- 'anthropic.', Claude Code's [1m] flag, Vertex @snapshot and Bedrock's provisioned-throughput
-- context suffix (:18k, :200k). Leaves the vendor's own name with its date and -vN:M revision.
create or replace macro model_id_core(model_id) as (
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    regexp_replace(regexp_replace(
        lower(trim(model_id)),
        '^.*/', ''),                                              -- last path segment
        ':(stream)?(raw)?predict$|:streamgeneratecontent$|:generatecontent$', ''),
        '^(us|eu|apac|jp|au|ca|us-gov|global)\.', ''),            -- inference profile
        '^anthropic\.', ''),
        '\[1m\]$', ''),                                           -- Claude Code 1M flag
        '@.*$', ''),                                              -- Vertex @snapshot
        ':\d+k$', '')                                             -- provisioned context size
);

-- The canonical name of a core id (model_id_core): claude-<family>-<major>[-<minor>], the
-- legacy generations by their version (models/prices/README.md has the table):
-- claude-v2:1 / claude-2.1 -> claude-2-1, claude-v2 / claude-2.0 -> claude-2-0,
-- claude-instant-v1 / claude-instant-1.2 -> claude-instant-1-2, claude-3-haiku-20240307 ->
-- claude-haiku-3, claude-3-5-sonnet-20240620 -> claude-sonnet-3-5 and its second version
-- (claude-3-5-sonnet-v2, -20241022, -latest) -> claude-sonnet-3-5-v2.
create or replace macro canonical_model_name(core) as (
    case
        -- Bedrock's text-completion ids carry the version after the colon, not a revision
        when regexp_matches(core, '^claude-v2:1$') then 'claude-2-1'
        when regexp_matches(core, '^claude-v2(:0)?$') then 'claude-2-0'
        when regexp_matches(core, '^claude-instant-v1(:\d+)?$') then 'claude-instant-1-2'
        when regexp_matches(core, '^claude-v1(:\d+)?$') then 'claude-1-3'
        -- moving aliases of the text-completion era: the last version each pointed to
        when core in ('claude-2', 'claude-2-latest') then 'claude-2-1'
        when core in ('claude-instant-1', 'claude-instant-1-latest') then 'claude-instant-1-2'
        when core in ('claude-1', 'claude-1-latest') then 'claude-1-3'
        -- 3.5 Sonnet's two versions share a name but not a snapshot
        when regexp_matches(core, '^claude-3-5-sonnet-(v2|20241022|latest)($|-v\d+(:\d+)?$)')
            then 'claude-sonnet-3-5-v2'
        else regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
             core,
                '-v\d+(:\d+)?$', ''),                               -- Bedrock -v1:0
                '-(\d{8}|latest)$', ''),                             -- snapshot date
                '^claude-(instant-)?(\d+)\.(\d+)(-100k)?$', 'claude-\1\2-\3'),  -- claude-2.1
                '^claude-(\d+)(?:-(\d+))?-(opus|sonnet|haiku)$', 'claude-\3-\1-\2'),
                '^(claude-(opus|sonnet|haiku)-\d+)-0?$', '\1')        -- claude-opus-4-0, legacy 3
    end
);

-- The canonical model name, claude-<family>-<major>[-<minor>], from every form a source logs:
-- anthropic.claude-sonnet-4-5-20250929-v1:0, us./eu./apac./jp./au./global. profiles,
-- arn:aws:bedrock:...:inference-profile/<profile id>, claude-sonnet-4-5@20250929,
-- projects/P/locations/L/publishers/anthropic/models/<id>:streamRawPredict, vertex_ai/<id>,
-- bedrock/<id>, anthropic/<id>, claude-sonnet-4-5-20250929, claude-3-7-sonnet-20250219,
-- anthropic.claude-v2:1, claude-instant-1.2 and Claude Code's [1m] suffix. An
-- application-inference-profile ARN that config does not map is kept whole (lower-cased), so
-- it shows up as an unpriced model naming the ARN to map.
create or replace macro canonical_model(model_id) as (
    case
        when model_id is null then null
        when lower(model_id) like '%:application-inference-profile/%' then lower(trim(model_id))
        else canonical_model_name(model_id_core(model_id))
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

-- A raw row a build can stage: every token count within what one request can carry and a time
-- between 2000 and a day from now. Formats reject anything else at ingest (ingest/bounds.py);
-- rows stored before those bounds existed, or written by hand, are left out of staging rather
-- than failing the build, and the quarantined_* checks list them.
create or replace macro plausible_tokens(n) as coalesce(n, 0) <= 10000000;
create or replace macro plausible_time(ts) as (
    ts >= timestamptz '2000-01-01 00:00:00+00' and ts <= current_timestamp + interval 1 day
);
