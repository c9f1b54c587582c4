-- grain: one row per raw_vertex_usage row that staging leaves out (a token count above
-- 10,000,000 or a time before 2000 or beyond tomorrow)
select insert_id, response_id, occurred_at, input_tokens, output_tokens, source_location
from raw_vertex_usage
where not (plausible_time(occurred_at)
    and plausible_tokens(input_tokens) and plausible_tokens(output_tokens)
    and plausible_tokens(cache_read_tokens) and plausible_tokens(cache_creation_tokens)
    and plausible_tokens(cache_write_5m_tokens) and plausible_tokens(cache_write_1h_tokens))
