-- ecocensus schema v7: which features of a layer meet another feature of the same layer
-- other than vertex for vertex along shared edges (an overlap, a crossing, a vertex on
-- another's edge, a repeated edge, or a box within another's box: server/stats/
-- union-boundary.ts contactFlags). A layer never changes after its import, so this is
-- found once — at import, or at the first whole-layer run for layers imported before —
-- and the cell engine then cuts only these features instead of searching every edge
-- pair on every run. In a land-survey tiling they are a few per cent; each is also a
-- topology finding for the survey team. layer.contacts: how many; NULL: not yet found.
ALTER TABLE layer ADD COLUMN contacts integer;

CREATE TABLE feature_contact (
  layer_id   integer NOT NULL REFERENCES layer(id) ON DELETE CASCADE,
  feature_id bigint NOT NULL REFERENCES feature(id) ON DELETE CASCADE,
  PRIMARY KEY (layer_id, feature_id)
);
