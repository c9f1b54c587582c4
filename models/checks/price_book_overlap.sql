-- grain: one row per pair of price_book entries of one key whose validity intervals overlap
select a.price_version, b.price_version as overlapping_version
from price_book as a
inner join price_book as b
    on a.provider = b.provider
    and a.model = b.model
    and a.pricing_scope = b.pricing_scope
    and a.pricing_tier = b.pricing_tier
    and a.is_batch = b.is_batch
    and a.price_version < b.price_version
    and a.valid_from < coalesce(b.valid_to, 'infinity'::timestamptz)
    and b.valid_from < coalesce(a.valid_to, 'infinity'::timestamptz)
