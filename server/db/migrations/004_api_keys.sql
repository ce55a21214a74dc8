-- ecocensus schema v4: API keys with roles. Only a SHA-256 digest of each key is stored
-- (keys are 256-bit random strings, so a fast hash is enough); the prefix identifies a key
-- in listings without revealing it.
CREATE TABLE api_key (
  id          serial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  role        text NOT NULL CHECK (role IN ('reader', 'analyst', 'admin')),
  digest      text NOT NULL UNIQUE,
  prefix      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
