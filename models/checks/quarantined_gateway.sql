-- grain: one row per raw_gateway row that staging leaves out (a token count above 10,000,000 or
-- a time before 2000 or beyond tomorrow): stored before ingest rejected such records, or by hand
select gateway_name, request_id, occurred_at, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, cache_write_1h_tokens, source_location
from raw_gateway
where not (plausible_time(occurred_at)
    and plausible_tokens(input_tokens) and plausible_tokens(output_tokens)
    and plausible_tokens(cache_read_tokens) and plausible_tokens(cache_write_tokens)
    and plausible_tokens(cache_write_1h_tokens))
