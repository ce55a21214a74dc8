-- display names of a layer (every version of it), for tables, the viewer and reports:
-- 生态保护红线 / ecological red line rather than the id `redline`
CREATE TABLE layer_label (
  name       text PRIMARY KEY,
  name_zh    text,
  name_en    text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text
);
