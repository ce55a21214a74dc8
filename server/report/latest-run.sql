-- The latest done run of kind $1 over unit set $2 (by name), if any.
SELECT id FROM run
WHERE kind = $1 AND status = 'done' AND COALESCE(meta -> 'unitSet' ->> 'name', inputs -> 'unitSet' ->> 'name', params ->> 'units') = $2
ORDER BY id DESC
LIMIT 1
